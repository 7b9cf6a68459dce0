"""Fuzzing the readers (atheris); see fuzz/README.md."""
