"""A minimal qsim engine adapter plugin (stdlib sqlite3)."""
