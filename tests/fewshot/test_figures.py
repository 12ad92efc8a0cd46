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
