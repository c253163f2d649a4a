"""The shared training configuration: the official TCE-Net recipe (SPEC §3).

Variants (sdsd.py, drv.py, demo.py) start from ``get_config()`` and change a few
fields; any field can be overridden on the command line, e.g.
``--config.num_epochs=100 --config.data.global_batch_size=8``.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 19960101  # the official seed

    # The network (TCENet constructor arguments) and how to run it.
    config.model = ml_collections.ConfigDict()
    config.model.base_dim = 32
    config.model.num_res_blocks = 16
    config.model.dtype = "float32"  # compute dtype: "bfloat16" on GPUs/TPUs
    config.init_checkpoint = ""  # optional TCE-Net to start from (a path load_tcenet reads)

    # Data: a real paired source and a synthetic source per step (see input_pipeline).
    config.data = data_config()

    # Optimiser: PyTorch Adam with L2 weight decay added to the gradient.
    config.learning_rate = 1e-4
    config.b1 = 0.9
    config.b2 = 0.999
    config.eps = 1e-8
    config.weight_decay = 1e-4
    # Schedule, in epochs (steps_per_epoch from the data): constant, then linear to 0.
    config.num_epochs = 300
    config.lr_constant_epochs = 150
    config.lr_decay_epochs = 150
    config.num_train_steps = -1  # > 0: stop after this many steps instead of num_epochs

    # Spatial-Temporal Compatible Learning: loss terms and weights per data source.
    # Terms: perceptual, charbonnier, edge, ssim (vs. ground truth frames 2 and 3, summed
    # over the two outputs) and temporal (between the two outputs).
    config.loss = ml_collections.ConfigDict()
    config.loss.real = {"perceptual": 1.0, "charbonnier": 1.0, "edge": 0.05}
    config.loss.synthetic = {"temporal": 1.0}
    config.loss.temporal_flow = "raft"  # "raft" or "ground_truth" (batches that carry flow)
    config.loss.raft_iters = 12
    config.loss.raft_input_scale = 255.0  # 1.0 reproduces the official code (RAFT fed [0, 1])
    config.loss.detach_flow = False  # the official code backpropagates through RAFT
    # The official soft masks pass gradient too (False: treat them as constants).
    config.loss.temporal_mask_gradient = True
    # True: without vgg_checkpoint the perceptual term is dropped (with a notice) instead of
    # being an error.
    config.loss.drop_perceptual_without_vgg = False
    # Pretrained frozen networks (Orbax directories written by tcenet_jax.convert).
    config.raft_checkpoint = ""  # raft-things.pth converted with `convert raft`
    config.vgg_checkpoint = ""  # torchvision vgg19 converted with `convert vgg19`

    # Bookkeeping.
    config.log_every_steps = 50
    config.image_every_steps = 500
    config.checkpoint_every_steps = 1000
    config.keep_checkpoints = 3  # the latest ones; the best by validation PSNR is kept too
    config.eval_every_epochs = 1
    return config


def source(
    builder: str,
    config: str = "",
    *,
    data_dir: str = "data/tfds",
    manual_dir: str = "",
    resize_to: str = "protocol",
    strict_lists: bool = False,
) -> ml_collections.ConfigDict:
    """A data source: the fields of ``tcenet_jax.datasets.source_config`` (documented there;
    tests/test_config_checks.py keeps the two equal)."""
    return ml_collections.ConfigDict(
        {
            "builder": builder,
            "config": config,
            "data_dir": data_dir,
            "manual_dir": manual_dir,
            "resize_to": resize_to,
            "strict_lists": strict_lists,
        }
    )


def data_config() -> ml_collections.ConfigDict:
    """The data part of the training config (the official recipe on SDSD indoor + DS-LOL).

    Fields:
      real: the real paired source (``source``: builder, config, data_dir, manual_dir,
        resize_to, strict_lists); its "train" split defines the epoch.
      synthetic: the synthetic source (builder "ds_lol" or "demo"); set its builder
        to "" to train without one (batches then have no "synthetic" entry).
      crop_size: side of the square training crops, in pixels (256).
      num_frames: frames per clip (6).
      global_batch_size: clips per step over all processes, per source (4).
      repeat: clips drawn per real training video per epoch (10).
      flip: random horizontal and vertical flips.
      rot90: random rotations by multiples of 90°.
      scale_range: (min, max) of a uniform random rescaling before the crop, or None.
        The range is narrowed where a frame would be smaller than the crop.
      num_workers: grain worker processes (0: load in the main process). Workers are
        started with "spawn": the program's entry point needs the
        ``if __name__ == "__main__":`` guard.
      prefetch: batches loaded ahead, in as many threads, in each worker (or in the
        main process when num_workers is 0); 0 loads synchronously.
    """
    config = ml_collections.ConfigDict()
    config.real = source("sdsd", "indoor", manual_dir="data/SDSD")
    config.synthetic = source("ds_lol", manual_dir="data/DS_LOL")
    config.crop_size = 256
    config.num_frames = 6
    config.global_batch_size = 4
    config.repeat = 10
    config.flip = True
    config.rot90 = True
    config.scale_range = (0.5, 2.0)
    config.num_workers = 2
    config.prefetch = 2
    return config
