"""Level 4: the prediction log, monitoring, retraining, rollback and hot swap."""
