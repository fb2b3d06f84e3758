"""Training a compiled model on data: reading and checking the data, the training loop, the baselines it is
compared with, and the run's reports. The public entry point is ``eqdesign.train`` (api.training)."""
