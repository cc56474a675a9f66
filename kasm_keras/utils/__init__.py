"""Files that are never left half-written, and downloads that are verified before use."""
