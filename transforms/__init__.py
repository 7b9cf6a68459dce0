"""One module per pipeline stage: pure logic plus a thin Beam wrapper."""
