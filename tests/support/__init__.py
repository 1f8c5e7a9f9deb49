"""What every test folder shares: the injected clock, a free port, the configuration builder."""
