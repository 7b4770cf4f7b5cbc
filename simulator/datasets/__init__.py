"""Dataset generations: immutable, content-addressed snapshots of every tenant's tables."""
