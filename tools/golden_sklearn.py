"""Golden values from scikit-learn for Ferrite's linear models, preprocessing and metrics.

Run from the repository root with the project's Python (PyTorch + scikit-learn):

    python (in a virtual environment with torch) tools/golden_sklearn.py

It writes `crates/ferrite/tests/fixtures/sklearn_*.json`; the Rust tests in
`crates/ferrite/tests/{linear_model,metrics,preprocessing}.rs` compare against them.
Inputs are written into the fixtures too (including the train/test split indices), so both
sides work on exactly the same rows.
"""

import json
import math
import os

import numpy as np
import sklearn
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    classification_report,
    confusion_matrix,
    explained_variance_score,
    fbeta_score,
    log_loss,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    multilabel_confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
    r2_score,
    roc_auc_score,
    roc_curve,
)
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder, MinMaxScaler, StandardScaler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "data")
OUT = os.path.join(ROOT, "crates", "ferrite", "tests", "fixtures")


def f32(a):
    """Rounds inputs to float32 first, so that Rust (f32 inputs) and Python see the same numbers."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def clean(v):
    """JSON-friendly: arrays to lists, NaN to the string "nan", infinities to "inf"/"-inf"."""
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [clean(x) for x in v]
    if isinstance(v, np.ndarray):
        return clean(v.tolist())
    if isinstance(v, (np.floating, float)):
        v = float(v)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(v, np.integer):
        return int(v)
    return v


def write(name, obj):
    os.makedirs(OUT, exist_ok=True)
    obj = {"sklearn_version": sklearn.__version__, **obj}
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(clean(obj), f, indent=1)
        f.write("\n")
    print("wrote", name)


def read_csv(name):
    """The header and rows of a small CSV, as strings."""
    with open(os.path.join(DATA, name)) as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    return lines[0].split(","), [line.split(",") for line in lines[1:]]


# ---------------------------------------------------------------- linear regression
def linear_fixtures():
    header, rows = read_csv("airquality.csv")
    rows = [r for r in rows if "NA" not in r]
    table = f32([[float(x) for x in r] for r in rows])
    y = table[:, header.index("ozone")]
    features = ["solar_r", "wind", "temp", "month", "day"]
    x = table[:, [header.index(c) for c in features]]

    ols = LinearRegression().fit(x, y)
    ridge = Ridge(alpha=10.0).fit(x, y)

    scaler = StandardScaler().fit(x)
    xs = scaler.transform(x)
    ols_std = LinearRegression().fit(xs, y)
    ridge_std = Ridge(alpha=10.0).fit(xs, y)

    # A singular design: `temp` twice and a column that is `wind` scaled by 2. XᵀX has rank 5
    # of 7 columns; lstsq returns the minimum-norm coefficients.
    x_sing = np.column_stack([x, x[:, 2], 2.0 * x[:, 1]])
    sing = LinearRegression().fit(x_sing, y)

    write(
        "sklearn_linear_regression.json",
        {
            "features": features,
            "n_rows": len(y),
            "x": x,
            "y": y,
            "ols": {"coef": ols.coef_, "intercept": ols.intercept_, "r2": ols.score(x, y)},
            "ridge_alpha_10": {"coef": ridge.coef_, "intercept": ridge.intercept_},
            "standardized": {
                "mean": scaler.mean_,
                "scale": scaler.scale_,
                "coef": ols_std.coef_,
                "intercept": ols_std.intercept_,
                "ridge_alpha_10_coef": ridge_std.coef_,
                "ridge_alpha_10_intercept": ridge_std.intercept_,
            },
            "singular": {
                "coef": sing.coef_,
                "intercept": sing.intercept_,
                "rank": int(sing.rank_),
                "r2": sing.score(x_sing, y),
            },
        },
    )


# ---------------------------------------------------------------- logistic regression
def logistic_fixtures():
    header, rows = read_csv("breast_cancer.csv")
    x = f32([[float(v) for v in r[:-1]] for r in rows])
    labels = [r[-1] for r in rows]
    enc = LabelEncoder().fit(labels)
    y = enc.transform(labels)
    idx = np.arange(len(y))
    train_idx, test_idx = train_test_split(idx, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x[train_idx])
    xtr, xte = scaler.transform(x[train_idx]), scaler.transform(x[test_idx])
    ytr, yte = y[train_idx], y[test_idx]

    out = {
        "classes": list(enc.classes_),
        "train_idx": train_idx,
        "test_idx": test_idx,
    }
    for name, kwargs in [
        ("no_penalty", dict(C=np.inf)),
        ("c_1e4", dict(C=1e4)),
        ("c_1", dict(C=1.0)),
        ("c_0_05", dict(C=0.05)),
    ]:
        clf = LogisticRegression(max_iter=100000, tol=1e-10, **kwargs).fit(xtr, ytr)
        out[name] = {
            "coef": clf.coef_[0],
            "intercept": clf.intercept_[0],
            "train_accuracy": clf.score(xtr, ytr),
            "test_accuracy": clf.score(xte, yte),
            "test_proba": clf.predict_proba(xte)[:, 1],
        }
    write("sklearn_logistic_breast_cancer.json", out)

    # Multinomial (softmax) on iris, standardised on all rows, L2 with C = 1.
    header, rows = read_csv("iris.csv")
    x = f32([[float(v) for v in r[:-1]] for r in rows])
    species = [r[-1] for r in rows]
    enc = LabelEncoder().fit(species)
    y = enc.transform(species)
    xs = f32(StandardScaler().fit_transform(x))
    clf = LogisticRegression(C=1.0, max_iter=100000, tol=1e-10).fit(xs, y)
    write(
        "sklearn_logistic_iris.json",
        {
            "classes": list(enc.classes_),
            "x": xs,
            "y": y,
            "coef": clf.coef_,
            "intercept": clf.intercept_,
            "proba": clf.predict_proba(xs),
            "accuracy": clf.score(xs, y),
            "log_loss": log_loss(y, clf.predict_proba(xs)),
        },
    )


# ---------------------------------------------------------------- preprocessing
def preprocessing_fixtures():
    # Column 1 is constant (no NaN after scaling), column 2 has a large offset.
    x_train = f32(
        [[1.0, 5.0, 1000.5], [2.0, 5.0, 1002.5], [4.0, 5.0, 999.0], [-3.0, 5.0, 1001.0]]
    )
    x_test = f32([[0.0, 5.0, 1000.0], [10.0, 6.0, 998.0]])
    mm = MinMaxScaler().fit(x_train)
    mm_range = MinMaxScaler(feature_range=(-1, 1)).fit(x_train)
    ss = StandardScaler().fit(x_train)

    labels = ["setosa", "virginica", "Zebra", "versicolor", "setosa", "apple", "virginica"]
    enc = LabelEncoder().fit(labels)

    # Stratified split sizes: class counts chosen so that the per-class shares have distinct
    # fractional parts (sklearn breaks exact ties at random).
    y_strat = np.array([0] * 50 + [1] * 30 + [2] * 13 + [3] * 7)
    strat = {}
    for test_size in [0.2, 0.3, 0.33]:
        tr, te = train_test_split(
            np.arange(len(y_strat)), test_size=test_size, random_state=1, stratify=y_strat
        )
        strat[str(test_size)] = {
            "n_train": len(tr),
            "n_test": len(te),
            "test_counts": np.bincount(y_strat[te], minlength=4),
        }
    plain = {}
    for n, test_size in [(10, 0.25), (7, 0.3), (100, 0.2), (3, 0.5)]:
        tr, te = train_test_split(np.arange(n), test_size=test_size, random_state=1)
        plain[f"{n}_{test_size}"] = {"n": n, "test_size": test_size, "n_train": len(tr), "n_test": len(te)}

    write(
        "sklearn_preprocessing.json",
        {
            "x_train": x_train,
            "x_test": x_test,
            "minmax": {
                "data_min": mm.data_min_,
                "data_max": mm.data_max_,
                "scale": mm.scale_,
                "train": mm.transform(x_train),
                "test": mm.transform(x_test),
            },
            "minmax_minus1_1": {"test": mm_range.transform(x_test)},
            "standard": {
                "mean": ss.mean_,
                "scale": ss.scale_,
                "var": ss.var_,
                "train": ss.transform(x_train),
                "test": ss.transform(x_test),
            },
            "label_encoder": {
                "labels": labels,
                "classes": list(enc.classes_),
                "encoded": enc.transform(labels),
            },
            "stratify_y": y_strat,
            "stratified_split": strat,
            "plain_split": plain,
        },
    )


# ---------------------------------------------------------------- metrics
def prf_all(y_true, y_pred, labels):
    """Per-class and averaged precision/recall/F for several betas and zero_division values."""
    out = {}
    for zd_name, zd in [("zero", 0.0), ("one", 1.0), ("nan", np.nan)]:
        for beta in [1.0, 0.5, 2.0]:
            for average in [None, "micro", "macro", "weighted"]:
                p, r, f, s = precision_recall_fscore_support(
                    y_true, y_pred, beta=beta, labels=labels, average=average, zero_division=zd
                )
                key = f"{zd_name}_{beta}_{average or 'none'}"
                out[key] = {"precision": p, "recall": r, "fscore": f}
                if average is None:
                    out[key]["support"] = s
    return out


def classification_case(y_true, y_pred, labels, target_names):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    mcm = multilabel_confusion_matrix(y_true, y_pred, labels=labels)
    tn, fp = mcm[:, 0, 0], mcm[:, 0, 1]
    specificity = np.where(tn + fp > 0, tn / np.maximum(tn + fp, 1), 0.0)
    return {
        "y_true": y_true,
        "y_pred": y_pred,
        "labels": labels,
        "target_names": target_names,
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels),
        "accuracy": accuracy_score(y_true, y_pred),
        "specificity": specificity,
        "prf": prf_all(y_true, y_pred, labels),
        "report": classification_report(
            y_true, y_pred, labels=labels, target_names=target_names, zero_division=0.0
        ),
        "report_digits_4": classification_report(
            y_true, y_pred, labels=labels, zero_division=0.0, digits=4
        ),
    }


def curve_case(y_true, y_score):
    y_true, y_score = np.asarray(y_true), f32(y_score)
    fpr, tpr, thr = roc_curve(y_true, y_score)
    fpr_all, tpr_all, thr_all = roc_curve(y_true, y_score, drop_intermediate=False)
    prec, rec, pr_thr = precision_recall_curve(y_true, y_score)
    return {
        "y_true": y_true,
        "y_score": y_score,
        "roc": {"fpr": fpr, "tpr": tpr, "thresholds": thr},
        "roc_all": {"fpr": fpr_all, "tpr": tpr_all, "thresholds": thr_all},
        "roc_auc": roc_auc_score(y_true, y_score),
        "pr": {"precision": prec, "recall": rec, "thresholds": pr_thr},
        "average_precision": average_precision_score(y_true, y_score),
        "log_loss": log_loss(y_true, np.clip(y_score, 0, 1)),
    }


def regression_case(y_true, y_pred):
    y_true, y_pred = f32(y_true), f32(y_pred)
    return {
        "y_true": y_true,
        "y_pred": y_pred,
        "mae": mean_absolute_error(y_true, y_pred),
        "mse": mean_squared_error(y_true, y_pred),
        "rmse": math.sqrt(mean_squared_error(y_true, y_pred)),
        "mape": mean_absolute_percentage_error(y_true, y_pred),
        "r2": r2_score(y_true, y_pred),
        "explained_variance": explained_variance_score(y_true, y_pred),
    }


def metrics_fixtures():
    rng = np.random.RandomState(7)
    # Imbalanced 4-class problem where class 3 is never predicted and class 2 is rare.
    y_true = rng.choice(4, size=60, p=[0.55, 0.25, 0.12, 0.08])
    y_pred = y_true.copy()
    flip = rng.rand(60) < 0.35
    y_pred[flip] = rng.choice(3, size=flip.sum())
    y_pred[y_pred == 3] = 0
    multi = classification_case(y_true, y_pred, [0, 1, 2, 3], ["cat", "dog", "bird", "hedgehog"])
    # A label given in `labels` that appears nowhere (class 4): zero support, zero predictions.
    multi_extra = classification_case(y_true, y_pred, [0, 1, 2, 3, 4], None)
    # Binary, imbalanced (8 positives of 40).
    yb = np.array([1] * 8 + [0] * 32)
    pb = yb.copy()
    pb[[0, 1, 2]] = 0
    pb[[10, 20, 30, 31]] = 1
    binary = classification_case(yb, pb, [0, 1], ["benign", "malignant"])
    binary["log_loss_proba"] = None

    # Scores with ties, an imbalanced binary target.
    y_curve = [0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0]
    s_curve = [0.1, 0.4, 0.35, 0.8, 0.4, 0.35, 0.2, 0.2, 0.9, 0.05,
               0.6, 0.4, 0.35, 0.3, 0.1, 0.7, 0.2, 0.55, 0.1, 0.05]
    curve = curve_case(y_curve, s_curve)
    curve_small = curve_case([0, 1, 1, 0, 1], [0.5, 0.5, 0.5, 0.2, 0.9])

    # Multi-class log loss.
    probs = f32(rng.dirichlet([1.0, 1.0, 1.0], size=12))
    probs[0] = [1.0, 0.0, 0.0]  # a certain and correct prediction
    probs[1] = [0.0, 1.0, 0.0]  # a certain and wrong one: clipped at eps
    y_ll = rng.choice(3, size=12)
    y_ll[1] = 2
    ll = {"y_true": y_ll, "proba": probs, "log_loss": log_loss(y_ll, probs, labels=[0, 1, 2])}

    reg = regression_case(
        [3.0, -0.5, 2.0, 7.0, 0.0, 4.5, 1.25, -2.0],
        [2.5, 0.0, 2.0, 8.0, 0.25, 4.0, 1.0, -2.5],
    )
    reg_const = regression_case([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
    reg_const_exact = regression_case([2.0, 2.0, 2.0], [2.0, 2.0, 2.0])
    write(
        "sklearn_metrics.json",
        {
            "multiclass": multi,
            "multiclass_extra_label": multi_extra,
            "binary": binary,
            "curve": curve,
            "curve_small": curve_small,
            "log_loss_multiclass": ll,
            "regression": reg,
            "regression_constant_target": reg_const,
            "regression_constant_exact": reg_const_exact,
        },
    )


if __name__ == "__main__":
    linear_fixtures()
    logistic_fixtures()
    preprocessing_fixtures()
    metrics_fixtures()
