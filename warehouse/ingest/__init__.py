"""Landing zone: raw-schema migrations and the file loader."""
