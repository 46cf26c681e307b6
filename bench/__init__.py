"""``make bench``: figures measured in one run (ratios and counts), not pass/fail timings."""
