"""tcenet_jax/checkpointing.py: which checkpoints are kept."""

import jax.numpy as jnp

from tcenet_jax.checkpointing import BEST_METRIC, TrainCheckpointer


def test_the_latest_and_the_best_checkpoint_by_validation_psnr_are_kept(tmp_path):
    checkpointer = TrainCheckpointer(tmp_path / "checkpoints", keep=1)
    psnrs = {1: 15.0, 2: 20.0, 3: 12.0, 4: 18.0, 5: None}  # step 5: no validation
    for step, psnr in psnrs.items():
        checkpointer.save(
            step,
            model={"w": jnp.full((2,), float(step))},
            optimizer={"step": jnp.asarray(step)},
            meta={"step": step},
            metrics=None if psnr is None else {BEST_METRIC: psnr},
        )
    kept = sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
    assert kept == [2, 5]
