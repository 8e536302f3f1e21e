"""What the tests share: the host session, harnesses (peers, a registry, a browser), data."""
