"""The connector contract, the files connector and the real-world recordings."""
