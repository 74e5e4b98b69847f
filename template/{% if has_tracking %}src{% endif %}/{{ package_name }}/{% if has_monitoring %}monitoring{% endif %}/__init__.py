"""The continuous-training loop: the prediction log, drift monitoring,
retraining behind the gate, rollback, and the service's hot swap."""
