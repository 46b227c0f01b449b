"""The self-supervised methods SimMTM is compared with: their augmentations and objectives (SimCLR, VICReg, Barlow Twins, masked reconstruction)."""
