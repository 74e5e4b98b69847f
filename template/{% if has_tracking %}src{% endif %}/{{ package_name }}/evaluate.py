"""Score a fitted classifier on rows it has not seen."""

import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline

# How many classes a binary task has; its second one counts as positive.
BINARY = 2


def evaluate(
    model: Pipeline, features: pd.DataFrame, labels: pd.Series
) -> dict[str, float]:
    """Accuracy, precision, recall, F1 and ROC AUC of `model` on held-out rows.

    With two classes the second one (1 for 0/1 labels) counts as positive;
    with more, precision, recall and F1 are macro averages and ROC AUC is
    one-vs-rest.
    """
    predicted = model.predict(features)
    probabilities = model.predict_proba(features)
    classes = model.classes_
    if len(classes) == BINARY:
        averaging = {"average": "binary", "pos_label": classes[1]}
        roc_auc = roc_auc_score(labels == classes[1], probabilities[:, 1])
    else:
        averaging = {"average": "macro"}
        roc_auc = roc_auc_score(
            labels, probabilities, multi_class="ovr", labels=classes
        )
    scores = {
        "accuracy": accuracy_score(labels, predicted),
        "precision": precision_score(labels, predicted, zero_division=0, **averaging),
        "recall": recall_score(labels, predicted, zero_division=0, **averaging),
        "f1": f1_score(labels, predicted, zero_division=0, **averaging),
        "roc_auc": roc_auc,
    }
    return {name: float(value) for name, value in scores.items()}
