"""Runner: Ray orchestration of tenant sessions, load models, durable results, resume."""
