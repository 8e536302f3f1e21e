"""bocker-magics' tests: unit/ (no root), host/ (the real kernel, as root), support/ (what both share)."""
