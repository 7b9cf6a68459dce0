"""The pipeline graph, its options and the command line."""
