"""Machinery shared by the three systems: config, seeding, training, checkpoints, metrics, export."""
