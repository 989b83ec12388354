from dlrun.errors import counted


def test_counted_says_one_epoch_and_otherwise_epochs():
    assert counted(1, "epoch") == "1 epoch"
    assert counted(0, "epoch") == "0 epochs"
    assert counted(3, "run") == "3 runs"
