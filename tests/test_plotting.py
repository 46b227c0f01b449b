import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from simmtm.plotting import plot_forecast, plot_learning_curves, plot_reconstruction, plot_similarity  # noqa: E402


def test_plots_draw_what_they_are_given():
    x = torch.randn(3, 20, 2)
    mask = torch.ones(9, 20, 2)
    mask[3, 5:8, 0] = 0  # view 1 of series 0: one span of three masked steps
    mask[3, 12, 0] = 0
    fig = plot_reconstruction(x, x + 0.1, mask, n_series=2)
    assert len(fig.axes) == 2 and len(fig.axes[0].patches) == 2  # one band per masked span
    assert fig.axes[0].patches[0].get_x() == 4.5 and fig.axes[0].patches[0].get_width() == 3
    fig2 = plot_similarity(torch.rand(6, 6), n_series=2)
    fig3 = plot_learning_curves([{"epoch": 0, "train_loss": 2.0, "val_loss": 2.5}, {"epoch": 1, "train_loss": 1.0, "val_loss": 1.7}])
    assert len(fig3.axes[0].lines) == 2
    fig4 = plot_forecast(x[0], x[1, :5], {"model": x[2, :5]})
    assert len(fig4.axes[0].lines) == 4  # input, truth, one forecast, the boundary line
    for f in (fig, fig2, fig3, fig4):
        plt.close(f)
