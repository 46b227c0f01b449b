"""The comparison style's pure helpers against hand-computed values, and the figures' promises
(integer epoch ticks, labelled axes and colourbars, no error bar from one seed, zoomed ranges)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from simmtm.plotting import (mean_spread, paired_difference, plot_forecast, plot_learning_curves,  # noqa: E402
                             plot_similarity, seed_note, zoom_note, zoomed_limits)


def test_paired_difference_pairs_by_seed_within_groups():
    rows = [{"value": 0.1, "variant": "SimMTM", "seed": 0, "acc": 0.75},
            {"value": 0.1, "variant": "random init", "seed": 0, "acc": 0.5},
            {"value": 0.1, "variant": "SimMTM", "seed": 1, "acc": 0.25},
            {"value": 0.1, "variant": "random init", "seed": 1, "acc": 0.5},
            {"value": 1.0, "variant": "SimMTM", "seed": 0, "acc": 1.0},
            {"value": 1.0, "variant": "random init", "seed": 0, "acc": 0.5},
            {"value": 1.0, "variant": "SimMTM", "seed": 2, "acc": 0.0}]  # seed 2 has no reference: left out
    got = paired_difference(rows, "acc", {"variant": "random init"}, by=("value",))
    assert got == {(0.1, "SimMTM"): {0: 0.25, 1: -0.25}, (1.0, "SimMTM"): {0: 0.5}}
    assert list(got) == [(0.1, "SimMTM"), (1.0, "SimMTM")]  # first-seen order


def test_paired_difference_across_groups_with_a_two_field_arm():
    runs = [{"method": "none", "protocol": "fine-tune", "seed": 0, "mse": 0.5},
            {"method": "simmtm", "protocol": "fine-tune", "seed": 0, "mse": 0.25},
            {"method": "simmtm", "protocol": "linear probe", "seed": 0, "mse": 0.75}]
    got = paired_difference(runs, "mse", {"method": "none", "protocol": "fine-tune"}, arm=("method", "protocol"))
    assert got == {("simmtm", "fine-tune"): {0: -0.25}, ("simmtm", "linear probe"): {0: 0.25}}


def test_mean_spread_has_no_spread_from_one_seed():
    assert mean_spread([2.0]) == (2.0, None)
    assert mean_spread([1.0, 3.0]) == (2.0, 1.0)  # population std, as in the result tables
    with pytest.raises(ValueError):
        mean_spread([])
    assert seed_note(1) == "1 seed" and seed_note(3) == "3 seeds"


def test_zoomed_limits_pad_the_range_and_can_include_zero():
    assert zoomed_limits([1.0, 3.0], pad=0.25) == (0.5, 3.5)
    assert zoomed_limits([0.2, 0.4], pad=0.0, include=[0.0]) == (0.0, 0.4)
    assert zoomed_limits([2.0, 2.0]) == (1.9, 2.1)  # a flat line still sits inside the axis
    assert zoomed_limits([0.0]) == (-1.0, 1.0)
    assert zoom_note(0.28, 0.43) == "zoomed: 0.280 to 0.430"


def test_learning_curves_have_integer_epochs_words_and_a_ylabel():
    fig = plot_learning_curves([{"epoch": 0, "train_loss": 2.0, "val_loss": 2.5},
                                {"epoch": 1, "train_loss": 1.0, "val_loss": 1.7}], best_epoch=1)
    ax = fig.axes[0]
    fig.canvas.draw()
    assert all(float(t).is_integer() for t in ax.get_xticks())
    assert ax.get_ylabel() and ax.get_xlabel().startswith("epoch")
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["training windows", "validation windows"]
    plt.close(fig)


def test_similarity_colourbar_is_labelled_and_cells_are_square():
    fig = plot_similarity(torch.rand(8, 32), n_series=8, colorbar="softmax weight")
    ax, cbar = fig.axes
    assert cbar.get_ylabel() == "softmax weight"
    assert ax.get_aspect() == 1.0
    plt.close(fig)


def test_forecast_shows_original_units_on_a_second_axis():
    x, y = torch.zeros(10, 2), torch.ones(4, 2)
    fig = plot_forecast(x, y, {"model": y}, scale=(10.0, 2.0), unit="°C", time_unit="1 h")
    ax = fig.axes[0]
    sec = [c for c in ax.get_children() if c.__class__.__name__ == "SecondaryAxis"][0]
    assert "°C" in sec.get_ylabel() and "1 h" in ax.get_xlabel()
    assert np.allclose(sec._functions[0](np.array([0.0, 1.0])), [10.0, 12.0])  # standardized -> original
    plt.close(fig)


def test_comparison_draws_no_error_bar_from_one_seed():
    from simmtm.experiments.comparison import plot_comparison

    runs = [{"method": m, "protocol": "fine-tune", "seed": 0, "accuracy": a}
            for m, a in (("simmtm", 0.96), ("none", 0.955))]
    fig = plot_comparison(runs, "accuracy", title="t")
    left, right = fig.axes
    assert "1 seed" in left.get_title()
    assert not any(c.__class__.__name__ == "LineCollection" for c in left.collections)  # no error bars
    lo, hi = left.get_xlim()
    assert 95.0 < lo < 95.5 and 96.0 < hi < 96.5  # zoomed around 95.5 and 96, not 0-100
    plt.close(fig)
    runs += [{**r, "seed": 1, "accuracy": r["accuracy"] + 0.01} for r in runs]
    fig = plot_comparison(runs, "accuracy", title="t")
    assert "2 seeds" in fig.axes[0].get_title()
    plt.close(fig)


def test_horizons_pair_seeds_and_draw_the_paper_average():
    import pandas as pd

    from simmtm.plotting import plot_horizons

    rows = [{"horizon": h, "init": i, "seed": s, "mse": base + (0.01 if i == "random init" else 0.0) + 0.001 * s}
            for h, base in ((96, 0.3), (192, 0.35)) for i in ("SimMTM", "random init") for s in (0, 1)]
    frame = pd.DataFrame([{"horizon": h, "init": i, "mse_mean": np.mean(v), "mse_std": np.std(v), "seeds": 2,
                           "paper_mse": np.nan}
                          for (h, i), v in pd.DataFrame(rows).groupby(["horizon", "init"], sort=False)["mse"]])
    fig = plot_horizons(frame, rows=rows, paper_average=0.33, title="toy, test split")
    left, right = fig.axes
    assert "zoomed" in left.get_ylabel() and left.get_ylim()[0] > 0.25  # not from 0
    assert any("4-horizon average 0.330" in t.get_text() for t in left.get_legend().get_texts())
    dots = [c.get_offsets() for c in right.collections if c.__class__.__name__ == "PathCollection"]
    assert np.allclose(np.concatenate(dots)[:, 1], -0.01) and len(np.concatenate(dots)) == 4  # 2 horizons x 2 seeds
    plt.close(fig)
