"""Archives of closed periods, their restoration, and workspace backups."""
