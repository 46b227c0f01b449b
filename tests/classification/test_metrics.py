import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from simmtm.classification.metrics import classification_metrics


def test_binary_hand_computed():
    y = np.array([0, 0, 1, 1, 1])
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.8, 0.2], [0.1, 0.9]])
    m = classification_metrics(y, probs)  # predictions 0, 1, 1, 0, 1
    assert m["accuracy"] == pytest.approx(3 / 5)
    # class 0: P = 1/2, R = 1/2; class 1: P = 2/3, R = 2/3
    assert m["precision"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert m["recall"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert m["f1"] == pytest.approx(f1_score(y, probs.argmax(1), average="macro"))
    # AUROC of class 1 scores: pairs (neg, pos) ranked right: 0.1<0.7,0.1>... count by hand
    pos, neg = probs[y == 1, 1], probs[y == 0, 1]
    pairs = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert m["auroc"] == pytest.approx(pairs)
    assert m["auroc"] == pytest.approx(roc_auc_score(y, probs[:, 1]))


def test_multiclass_against_sklearn_and_single_class():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 200)
    probs = rng.dirichlet(np.ones(4), 200)
    m = classification_metrics(y, probs)
    assert m["auroc"] == pytest.approx(roc_auc_score(y, probs, multi_class="ovr", average="macro"))
    assert m["f1"] == pytest.approx(f1_score(y, probs.argmax(1), average="macro"))
    single = classification_metrics(np.zeros(5, dtype=int), probs[:5])
    assert np.isnan(single["auroc"]) and np.isnan(single["auprc"])
    with pytest.raises(ValueError, match=r"\[N, K\]"):
        classification_metrics(y, probs[:10])
