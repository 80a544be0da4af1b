"""Charts for reports (matplotlib, imported lazily by the commands that draw)."""
