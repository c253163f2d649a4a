"""The shared training configuration: the official TCE-Net recipe (SPEC §3).

Variants (sdsd.py, drv.py, demo.py) start from ``get_config()`` and change a few
fields; any field can be overridden on the command line, e.g.
``--config.num_epochs=100 --config.data.global_batch_size=8``.
"""

import ml_collections

from tcenet_jax import input_pipeline


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
    config.data = input_pipeline.default_data_config()

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
