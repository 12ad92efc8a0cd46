"""Few-shot figures: the kept model is the one training restored; every figure is a PNG, also for skipped stages."""

from __future__ import annotations

from neurotrio.fewshot.figures import kept_point, plot_eval_accuracy, plot_training_curves

PRE = [{"epoch": 1, "train_loss": 3.0, "val_acc": 0.40}, {"epoch": 2, "train_loss": 2.0, "val_acc": 0.55},
       {"epoch": 3, "train_loss": 1.5, "val_acc": 0.50}]
FT = [{"epoch": 1, "train_loss": 2.5, "val_acc": 0.52}, {"epoch": 2, "train_loss": 2.4, "val_acc": 0.60}]


def test_kept_point_follows_the_selection_rules():
    # pre-training restores its best epoch (2, not the last); fine-tuning kept only when it beat it
    assert kept_point({"pretrain_history": PRE, "finetune_history": FT, "kept": "finetuned"}) == ("finetune", 2)
    assert kept_point({"pretrain_history": PRE, "finetune_history": FT, "kept": "pretrained"}) == ("pretrain", 2)
    assert kept_point({"pretrain_history": PRE, "finetune_history": [], "kept": "finetuned"}) == ("pretrain", 2)
    assert kept_point({"pretrain_history": [], "finetune_history": [], "kept": "finetuned"}) is None


def test_figures_are_pngs_also_for_skipped_stages(tmp_path):
    png = b"\x89PNG\r\n\x1a\n"
    full = {"pretrain_history": PRE, "finetune_history": FT, "kept": "finetuned", "finetune_start_val_acc": 0.55}
    for name, rec in [("full", full), ("none", {"pretrain_history": [], "finetune_history": [], "kept": "pretrained"})]:
        assert plot_training_curves(rec, tmp_path / f"{name}.png", 30).read_bytes()[:8] == png
    report = {"5w1s": {"mean": 90.0, "ci95": 1.2, "episodes": 600}, "20w5s": {"mean": 80.0, "ci95": 0.8, "episodes": 600}}
    assert plot_eval_accuracy(report, ("5w1s", "20w5s"), tmp_path / "eval.png").read_bytes()[:8] == png
    assert not list(tmp_path.glob("*.part*"))  # written atomically


def test_epoch_axes_tick_whole_epochs_also_for_a_single_epoch():
    """A 1-epoch run (the smoke settings in the docs) drew ticks 0.945, 0.960, ... 1.050 on train.png."""
    from neurotrio.core.plots import _pyplot
    from neurotrio.fewshot.figures import _stage

    plt = _pyplot()
    for history, scale in [(PRE[:1], 1), (PRE, 1), (FT[:1], 4), (FT, 30)]:
        fig, ax = plt.subplots()
        _stage(ax, history, "stage", "epoch", scale, kept=None)
        fig.canvas.draw()
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        plt.close(fig)
        assert ticks == [e["epoch"] * scale for e in history]
