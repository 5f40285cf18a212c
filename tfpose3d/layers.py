"""Custom Keras layers of the method; each is registered and serializable."""

from __future__ import annotations

from typing import Any, Sequence

import keras
from keras import ops

from tfpose3d import skeleton

_PACKAGE = "tfpose3d"


def _cell_centres(grid_size: int, image_size: float):
    """(Ng*Ng, 2) pixel centres (x, y) of the cells, numbered row-major y*Ng + x."""
    cell = image_size / grid_size
    coords = (ops.arange(grid_size, dtype="float32") + 0.5) * cell
    ys, xs = ops.meshgrid(coords, coords, indexing="ij")
    return ops.stack([ops.reshape(xs, (-1,)), ops.reshape(ys, (-1,))], axis=-1)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class GridSoftLabels(keras.layers.Layer):
    """Soft classification targets for 2D joints on an Ng x Ng grid (eqs 1-2).

    Each cell whose centre c_i lies within `width` pixels of the joint gets
    weight 1 / d(joint, c_i); the weights are normalised to sum to 1. A joint
    exactly on a centre gets that cell alone. Joints that are invisible, not
    finite, or outside the image get an all-zero row, so that a cross-entropy
    against it is zero (the joint is masked).

    Args:
        grid_size: Ng; cells are numbered row-major, index y * Ng + x.
        image_size: side of the square image in pixels.
        width: omega_g in pixels; defaults to one cell's width.

    Example:
    >>> labels = GridSoftLabels(grid_size=4, image_size=8)
    >>> keras.ops.convert_to_numpy(labels(np.array([[[1.0, 1.0]]], "float32"))[0, 0, :3]).tolist()  # on cell 0's centre
    [1.0, 0.0, 0.0]
    """

    def __init__(self, grid_size: int, image_size: float, width: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.grid_size = int(grid_size)
        self.image_size = float(image_size)
        self.width = float(width) if width is not None else self.image_size / self.grid_size

    def call(self, joints, visibility=None):
        joints = ops.cast(joints, "float32")
        centres = _cell_centres(self.grid_size, self.image_size)
        finite = ops.all(ops.isfinite(joints), axis=-1)
        safe = ops.where(finite[..., None], joints, ops.zeros_like(joints))
        inside = ops.all((safe >= 0.0) & (safe <= self.image_size), axis=-1)
        valid = finite & inside
        if visibility is not None:
            valid = valid & (ops.cast(visibility, "float32") > 0.0)

        delta = safe[..., None, :] - centres  # (B, Nj, K, 2)
        dist = ops.sqrt(ops.sum(ops.square(delta), axis=-1))
        eps = 1e-4 * self.image_size / self.grid_size
        on_centre = dist < eps
        near = ops.cast(dist <= self.width, "float32")
        weights = near / ops.maximum(dist, eps)
        # The 1/d weight of a cell under the joint is infinite: that cell takes all the mass.
        weights = ops.where(ops.any(on_centre, axis=-1, keepdims=True), ops.cast(on_centre, "float32"), weights)
        total = ops.sum(weights, axis=-1, keepdims=True)
        probs = weights / ops.maximum(total, 1e-12)
        return probs * ops.cast(valid, "float32")[..., None]

    def compute_output_shape(self, joints_shape, visibility_shape=None):
        return tuple(joints_shape[:-1]) + (self.grid_size * self.grid_size,)

    def get_config(self):
        return {**super().get_config(), "grid_size": self.grid_size, "image_size": self.image_size, "width": self.width}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class GridSoftArgmax(keras.layers.Layer):
    """Expected cell centre under per-joint grid probabilities: (B, Nj, Ng*Ng) -> (B, Nj, 2).

    Args:
        grid_size: Ng of the probabilities' grid (row-major cells).
        image_size: side of the square image in pixels; output is in pixels (x, y).

    Example:
    >>> keras.ops.convert_to_numpy(GridSoftArgmax(grid_size=2, image_size=10)(np.full((1, 1, 4), 0.25, "float32"))).tolist()
    [[[5.0, 5.0]]]
    """

    def __init__(self, grid_size: int, image_size: float, **kwargs):
        super().__init__(**kwargs)
        self.grid_size = int(grid_size)
        self.image_size = float(image_size)

    def call(self, probs):
        centres = _cell_centres(self.grid_size, self.image_size)
        return ops.einsum("...k,kc->...c", ops.cast(probs, "float32"), centres)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (2,)

    def get_config(self):
        return {**super().get_config(), "grid_size": self.grid_size, "image_size": self.image_size}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MultiRootMerge(keras.layers.Layer):
    """Merge per-root relative poses into one pelvis-relative pose (eq 7), optionally aligned first.

    Input (B, Nr, Nj, 3): for root r, the pose relative to that root (the
    root's own row is ignored and taken as zero). Each root's pose is shifted
    to zero mean over joints and the Nr poses are averaged (eq 7); the result
    is translated so that the pelvis is at the origin.

    The paper's conclusion asks for "an aligning method for the multiple
    regression results"; `align` gives two:
    - "rigid": each root's centred pose is first rotated onto the eq 7
      consensus (Kabsch: the rotation that best fits it), then they are averaged;
    - "robust": each root's estimate of each joint is weighted by its agreement
      with the consensus, 1 / (1 + (distance / `scale`)^2), so a root that is
      far off for one joint counts less for that joint.

    Args:
        roots: joint index of each of the Nr roots, in the input's order.
        pelvis: joint index placed at the origin.
        align: "none" (eq 7), "rigid" or "robust".
        scale: the robust weight's distance scale, in the input's unit.

    Example:
    >>> MultiRootMerge(roots=[0, 9], align="rigid")(np.zeros((4, 2, 17, 3), "float32")).shape
    TensorShape([4, 17, 3])
    """

    ALIGNS = ("none", "rigid", "robust")

    def __init__(self, roots: Sequence[int], pelvis: int = skeleton.PELVIS, align: str = "none", scale: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        if align not in self.ALIGNS:
            raise ValueError(f"align must be one of {self.ALIGNS}, got {align!r}")
        self.roots = [int(r) for r in roots]
        self.pelvis = int(pelvis)
        self.align = align
        self.scale = float(scale)

    def call(self, poses):
        num_joints = poses.shape[-2]
        keep = ops.convert_to_tensor(
            [[0.0 if j == r else 1.0 for j in range(num_joints)] for r in self.roots], dtype=poses.dtype
        )
        poses = poses * keep[None, :, :, None]
        centred = poses - ops.mean(poses, axis=2, keepdims=True)
        merged = ops.mean(centred, axis=1)
        if self.align == "rigid":
            # Kabsch per root: H = P^T C = U S V^T; R = U diag(1, 1, det) V^T rotates P onto C without reflecting.
            u, _, vt = ops.svd(ops.einsum("brji,bjk->brik", centred, merged))
            det = ops.sign(ops.det(ops.matmul(u, vt)))
            fix = ops.stack([ops.ones_like(det), ops.ones_like(det), det], axis=-1)
            rotation = ops.matmul(u * fix[..., None, :], vt)
            merged = ops.mean(ops.einsum("brji,brik->brjk", centred, rotation), axis=1)
        elif self.align == "robust":
            distance2 = ops.sum(ops.square(centred - merged[:, None]), axis=-1, keepdims=True)
            weight = 1.0 / (1.0 + distance2 / self.scale**2)
            merged = ops.sum(weight * centred, axis=1) / ops.sum(weight, axis=1)
        return merged - merged[:, self.pelvis : self.pelvis + 1, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "roots": self.roots, "pelvis": self.pelvis, "align": self.align, "scale": self.scale}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class StopGradient(keras.layers.Layer):
    """Identity in the forward pass, no gradient in the backward pass.

    Used so that the 3D loss cannot change the 2D branch through the fusion.

    Example:
    >>> StopGradient()(np.ones((2, 3), "float32")).shape
    TensorShape([2, 3])
    """

    def call(self, inputs):
        return ops.stop_gradient(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LandmarkCues(keras.layers.Layer):
    """BlazePose's raw landmark outputs as one vector of cues near unit scale, for the FC branches.

    Of the 39 landmarks the first `body` are the body's (the rest place BlazePose's own crop). Each image
    landmark gives x, y and z as fractions of the network's input side and its visibility as a probability;
    each world landmark its position in metres about the hips.

    Args:
        input_size: side of BlazePose's input in pixels (its landmarks' unit).
        body: how many of the 39 landmarks to keep.

    Example:
    >>> raw = np.tile(np.array([128.0, 64.0, 0.0, 0.0, 5.0], "float32"), (1, 39))
    >>> cues = LandmarkCues()([raw, np.zeros((1, 117), "float32")])
    >>> cues.shape, np.round(np.asarray(cues)[0, :4], 2).tolist()
    (TensorShape([1, 231]), [0.5, 0.25, 0.0, 0.5])
    """

    def __init__(self, input_size: int = 256, body: int = skeleton.BLAZEPOSE_BODY, **kwargs):
        super().__init__(**kwargs)
        self.input_size, self.body = int(input_size), int(body)

    def call(self, inputs):
        image, world = inputs
        image = ops.reshape(image, (-1, skeleton.BLAZEPOSE_LANDMARKS, 5))[:, : self.body]
        image = ops.concatenate([image[..., :3] / self.input_size, ops.sigmoid(image[..., 3:4])], axis=-1)
        world = ops.reshape(world, (-1, skeleton.BLAZEPOSE_LANDMARKS, 3))[:, : self.body]
        return ops.concatenate([ops.reshape(image, (-1, self.body * 4)), ops.reshape(world, (-1, self.body * 3))], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.body * 7)

    def get_config(self):
        return {**super().get_config(), "input_size": self.input_size, "body": self.body}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LandmarkPrior(keras.layers.Layer):
    """A log-prior over each joint's grid cells from BlazePose's raw landmarks, to add to the 2D logits: a cell
    scores lower by its squared distance (in cells) from where the landmarks put the joint
    (`skeleton.blazepose_weights`), halved and times a learned weight (1 at first).

    The 2D branch then classifies as the paper does, starting from the evidence of a network trained on real
    photographs; its own logits learn what to correct (the joints BlazePose does not mark, such as the head top).

    Args:
        grid_size: Ng, the grid is Ng x Ng cells.
        image_size: side of the model's input in pixels, the crop the landmarks were read from.
        input_size: side of BlazePose's input in pixels (its landmarks' unit).

    Example:
    >>> raw = np.zeros((1, 39, 5), "float32")
    >>> raw[0, :, :2] = 96.0  # every landmark at the centre of the 192 px input
    >>> prior = np.asarray(LandmarkPrior(grid_size=4, image_size=64, input_size=192)(raw.reshape(1, 195)))
    >>> prior.shape, float(prior.max()), int(prior[0, 0].argmax()) in (5, 6, 9, 10)  # half a cell off each way
    ((1, 17, 16), -0.25, True)
    """

    def __init__(self, grid_size: int, image_size: int, input_size: int = 256, **kwargs):
        super().__init__(**kwargs)
        self.grid_size, self.image_size, self.input_size = int(grid_size), int(image_size), int(input_size)
        self.mapping = skeleton.blazepose_weights().astype("float32")

    def build(self, input_shape):
        self.weight = self.add_weight(shape=(), initializer=keras.initializers.Constant(1.0), name="weight")

    def call(self, inputs):
        image = ops.reshape(ops.cast(inputs, "float32"), (-1, skeleton.BLAZEPOSE_LANDMARKS, 5))
        xy = image[:, : skeleton.BLAZEPOSE_BODY, :2] * (self.image_size / self.input_size)
        joints = ops.transpose(ops.matmul(ops.transpose(xy, (0, 2, 1)), self.mapping), (0, 2, 1))  # (B, 17, 2)
        centres = _cell_centres(self.grid_size, self.image_size)
        cell = self.image_size / self.grid_size
        squared = ops.sum(ops.square(joints[:, :, None, :] - centres[None, None]), axis=-1) / (cell * cell)
        return ops.cast(-0.5 * self.weight * squared, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], skeleton.NUM_JOINTS, self.grid_size * self.grid_size)

    def get_config(self):
        return {**super().get_config(), "grid_size": self.grid_size, "image_size": self.image_size,
                "input_size": self.input_size}


def bone_vectors(pose: Any) -> Any:
    """(B, 16, 3) each bone of a pose (B, 17, 3), from its parent joint to its child, in the order of
    `skeleton.BONES`."""
    parents, children = ([bone[k] for bone in skeleton.BONES] for k in (0, 1))
    return ops.take(pose, children, axis=1) - ops.take(pose, parents, axis=1)


def bone_lengths(pose: Any) -> Any:
    """(B, 16) the lengths of a pose's (B, 17, 3) bones, in the order of `skeleton.BONES`.

    Example:
    >>> pose = np.zeros((1, 17, 3), "float32"); pose[0, :, 1] = np.arange(17.0) ** 2
    >>> float(bone_lengths(pose)[0, 0])  # pelvis (0) to right hip (1)
    1.0
    """
    return ops.sqrt(ops.sum(ops.square(bone_vectors(pose)), axis=-1))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SkeletonFit(keras.layers.Layer):
    """A 3D pose rebuilt with given bone lengths along its own bone directions, from the pelvis out.

    Each bone of `skeleton.BONES` keeps the direction from its parent joint to its child in the input pose
    and gets its length from `lengths`; the pelvis stays where it is. A pose whose joints are regressed one by
    one implies bone lengths that change with its depth errors (a forearm pointing at the camera comes out
    short); refit, it has one skeleton.

    Call arguments: `pose` (B, 17, 3) and `lengths` (B, 16), in the same unit.

    Example:
    >>> pose = np.zeros((1, 17, 3), "float32"); pose[0, :, 1] = np.arange(17.0)  # every bone points down y
    >>> fitted = SkeletonFit()(pose, np.full((1, 16), 2.0, "float32"))
    >>> np.asarray(fitted)[0, skeleton.JOINT_INDEX["r_ankle"]].tolist()  # three bones of 2 from the pelvis
    [0.0, 6.0, 0.0]
    """

    def call(self, pose, lengths):
        return refit(pose, lengths)

    def compute_output_shape(self, pose_shape, lengths_shape):
        return tuple(pose_shape)


def refit(pose: Any, lengths: Any) -> Any:
    """`SkeletonFit`'s computation, for layers that refit a pose inside their own `call`."""
    joints = {skeleton.PELVIS: pose[:, skeleton.PELVIS]}
    # skeleton.BONES lists each parent before its children.
    for k, (parent, child) in enumerate(skeleton.BONES):
        direction = pose[:, child] - pose[:, parent]
        norm = ops.sqrt(ops.sum(ops.square(direction), axis=-1, keepdims=True) + 1e-12)
        joints[child] = joints[parent] + direction / norm * lengths[:, k : k + 1]
    return ops.stack([joints[j] for j in range(skeleton.NUM_JOINTS)], axis=1)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class FlipAverage(keras.layers.Layer):
    """Test-time flip: an output for an image averaged with the output for the mirrored image, mirrored back.

    Mirroring back swaps left and right joints and reflects what the output
    measures: x of a 3D pose (camera frame, x right), x of 2D joints (pixels,
    x -> `image_size` - x), the columns of the 2D grids. The mean of two 3D
    poses whose bones point apart has shorter bones than either, so the mean
    pose is refit (as `SkeletonFit` refits) to the mean of the two poses' bone lengths:
    a model whose pose is one skeleton of its bone head's lengths keeps them.

    Args:
        kind: which output this averages: "pose_3d" (B, Nj, 3), "joints_2d" (B, Nj, 2) or "heatmaps_2d"
            (B, Nj, Ng, Ng).
        image_size: the input's side in pixels (for "joints_2d").

    Example:
    >>> pose = np.random.rand(1, 17, 3).astype("float32")
    >>> mirrored = (pose * [-1, 1, 1])[:, skeleton.flip_permutation()]
    >>> np.allclose(FlipAverage("pose_3d")(pose, mirrored), pose)
    True
    >>> moved = pose.copy(); moved[:, skeleton.JOINT_INDEX["r_wrist"], 2] += 1.0  # the two disagree on a wrist
    >>> mirrored = (moved * [-1, 1, 1])[:, skeleton.flip_permutation()]
    >>> np.allclose(bone_lengths(FlipAverage("pose_3d")(pose, mirrored)), (bone_lengths(pose) + bone_lengths(moved)) / 2)
    True
    """

    OUTPUTS = ("pose_3d", "joints_2d", "heatmaps_2d")

    def __init__(self, kind: str, image_size: float = 225.0, **kwargs):
        super().__init__(**kwargs)
        if kind not in self.OUTPUTS:
            raise ValueError(f"kind must be one of {self.OUTPUTS}, got {kind!r}")
        self.kind = kind
        self.image_size = float(image_size)

    def call(self, value, mirrored_value):
        back = ops.take(mirrored_value, skeleton.flip_permutation(), axis=1)
        if self.kind == "pose_3d":
            back = back * ops.convert_to_tensor([-1.0, 1.0, 1.0], dtype=back.dtype)
        elif self.kind == "joints_2d":
            back = ops.stack([self.image_size - back[..., 0], back[..., 1]], axis=-1)
        else:
            back = ops.flip(back, axis=-1)
        mean = 0.5 * (value + back)
        if self.kind != "pose_3d":
            return mean
        return refit(mean, 0.5 * (bone_lengths(value) + bone_lengths(back)))

    def compute_output_shape(self, value_shape, mirrored_value_shape):
        return tuple(value_shape)

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "image_size": self.image_size}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MirrorImage(keras.layers.Layer):
    """Images (B, H, W, C) mirrored left to right: the input of the test-time flip.

    Example:
    >>> MirrorImage()(np.arange(3, dtype="float32").reshape(1, 1, 3, 1))[0, 0, :, 0].numpy().tolist()
    [2.0, 1.0, 0.0]
    """

    def call(self, images):
        return ops.flip(images, axis=2)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)
