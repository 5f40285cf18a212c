"""Temporal smoothing of per-frame poses: a causal filter for live use and a centred window for files.

Per-frame estimates jitter from frame to frame; the motion they follow does
not. `OneEuro` (Casiez, Roussel & Vogel, CHI 2012) smooths hard when a joint
is slow and little when it moves fast, so it removes jitter without lagging a
fast movement; it needs only the past. `window` fits a low-order polynomial to
a centred window of frames (Savitzky & Golay, 1964), which keeps the peaks of
fast movements that a moving average would flatten; it needs the future too.
`bench/smoothing.py` measures both on rendered clips.
"""

from __future__ import annotations

import numpy as np

SMOOTHERS = ("none", "causal", "window")


def _alpha(cutoff: np.ndarray | float, rate: float) -> np.ndarray | float:
    tau = 1.0 / (2 * np.pi * cutoff)
    return 1.0 / (1.0 + tau * rate)


class OneEuro:
    """The One Euro filter on arrays of any shape (each element filtered on its own), one frame at a time.

    Args:
        rate: frames per second, where frames come without their times (and where two share one).
        min_cutoff: Hz; the cutoff while a value stands still. Lower is smoother (and slower to follow).
        beta: how fast the cutoff rises with speed (per unit of the values' speed: per mm/s for poses in mm).
        d_cutoff: Hz; the cutoff of the speed estimate.

    Called with each frame's time (seconds), it filters at the rate between frames, as the filter is defined:
    a video from a phone comes at a variable rate.

    Example:
        >>> f = OneEuro(rate=30.0)
        >>> [round(float(f(np.array([v]))[0]), 2) for v in (0.0, 10.0, 10.0)]
        [0.0, 2.41, 4.51]
        >>> f = OneEuro(rate=30.0)                # the same frames a tenth of a second apart: followed faster
        >>> [round(float(f(np.array([v]), t)[0]), 2) for v, t in ((0.0, 0.0), (10.0, 0.1), (10.0, 0.2))]
        [0.0, 4.65, 7.2]
    """

    def __init__(self, rate: float, min_cutoff: float = 1.0, beta: float = 0.01, d_cutoff: float = 1.0):
        if rate <= 0 or min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError(f"OneEuro needs a positive rate and cutoffs and beta >= 0; got rate={rate}, "
                             f"min_cutoff={min_cutoff}, beta={beta}, d_cutoff={d_cutoff}")
        self.rate, self.min_cutoff, self.beta, self.d_cutoff = rate, min_cutoff, beta, d_cutoff
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None
        self._time: float | None = None

    def __call__(self, value: np.ndarray, time_s: float | None = None) -> np.ndarray:
        value = np.asarray(value, np.float64)
        last, self._time = self._time, time_s
        if self._value is None:
            self._value, self._speed = value, np.zeros_like(value)
            return value.copy()
        rate = 1.0 / (time_s - last) if time_s is not None and last is not None and time_s > last else self.rate
        speed = (value - self._value) * rate
        self._speed = self._speed + _alpha(self.d_cutoff, rate) * (speed - self._speed)
        cutoff = self.min_cutoff + self.beta * np.abs(self._speed)
        self._value = self._value + _alpha(cutoff, rate) * (value - self._value)
        return self._value.copy()


class Window:
    """Savitzky-Golay smoothing, streamed: each frame becomes the value at its centre of the polynomial of
    degree `order` that best fits the 2 * `radius` + 1 frames around it; near the ends the window is mirrored.

    `push` takes a frame and returns the frames now complete (each `radius` frames late); `flush` ends the
    clip. It holds 2 * `radius` + 1 frames, whatever the clip's length. It counts frames, not seconds: a
    frame's time is taken and not used.

    Example:
        >>> t = np.arange(10.0)
        >>> np.allclose(window(t**2, radius=2, order=2)[2:-2], (t**2)[2:-2])  # a parabola passes unchanged
        True
    """

    def __init__(self, radius: int = 4, order: int = 2):
        if radius < 1 or order < 0 or order >= 2 * radius + 1:
            raise ValueError(f"window needs radius >= 1 and 0 <= order < 2 * radius + 1; got radius={radius}, order={order}")
        self.radius = radius
        # Row 0 of the fit's pseudo-inverse: the weights that give the polynomial's value at the centre.
        self.weights = np.linalg.pinv(np.vander(np.arange(-radius, radius + 1), order + 1, increasing=True))[0]
        self._items: dict[int, tuple[object, np.ndarray]] = {}
        self._seen = self._done = 0

    def _emit(self, t: int, count: int | None) -> tuple[object, np.ndarray]:
        """Frame t, from the held frames; `count` is the clip's length once it has ended (else None)."""
        index = np.abs(np.arange(t - self.radius, t + self.radius + 1))  # mirrored at the start
        if count is not None:  # and at the end, repeatedly for clips shorter than the window
            period = max(2 * (count - 1), 1)
            index = index % period
            index = np.where(index >= count, period - index, index)
        value = sum(w * self._items[i][1] for w, i in zip(self.weights, index))
        return self._items[t][0], value

    def push(self, item: object, value: np.ndarray, time_s: float | None = None) -> list[tuple[object, np.ndarray]]:
        self._items[self._seen] = item, np.asarray(value, np.float64)
        self._seen += 1
        out = []
        while self._done + self.radius < self._seen:
            out.append(self._emit(self._done, None))
            self._done += 1
        self._items.pop(self._seen - 2 * self.radius - 2, None)
        return out

    def flush(self) -> list[tuple[object, np.ndarray]]:
        out = [self._emit(t, self._seen) for t in range(self._done, self._seen)]
        self._items.clear()
        self._seen = self._done = 0
        return out


class Causal:
    """`OneEuro` with the streaming interface of `Window`: each frame comes back at once."""

    def __init__(self, rate: float, min_cutoff: float = 1.0, beta: float = 0.01):
        self.rate, self.min_cutoff, self.beta = rate, min_cutoff, beta
        self._filter = OneEuro(rate, min_cutoff, beta)

    def push(self, item: object, value: np.ndarray, time_s: float | None = None) -> list[tuple[object, np.ndarray]]:
        return [(item, self._filter(value, time_s))]

    def flush(self) -> list[tuple[object, np.ndarray]]:
        self._filter = OneEuro(self.rate, self.min_cutoff, self.beta)
        return []


class Unsmoothed:
    """No smoothing: each pose passes as it came, with the streaming interface of `Window` and `Causal`."""

    def push(self, item: object, value: np.ndarray, time_s: float | None = None) -> list[tuple[object, np.ndarray]]:
        return [(item, np.asarray(value, np.float64))]

    def flush(self) -> list[tuple[object, np.ndarray]]:
        return []


def smoother(kind: str, rate: float, strength: float = 1.0) -> Window | Causal | Unsmoothed:
    """A streaming smoother: `kind` "none", "causal" (One Euro) or "window" (Savitzky-Golay) at `strength`.

    `strength` scales the defaults: the causal filter's still cutoff is 1 Hz / strength, the window's radius
    is round(4 * strength) frames (a window of 0.3 s at 30 frames/s).
    """
    if kind not in SMOOTHERS:
        raise ValueError(f"unknown smoothing {kind!r}; choose one of {', '.join(SMOOTHERS)}")
    if not strength > 0:
        raise ValueError(f"smoothing strength must be positive, got {strength}")
    if kind == "window":
        return Window(radius=max(1, round(4 * strength)))
    return Causal(rate, min_cutoff=1.0 / strength) if kind == "causal" else Unsmoothed()


def run(stream: Window | Causal | Unsmoothed, values: np.ndarray) -> np.ndarray:
    """A whole clip (T, ...) through a streaming smoother."""
    out = [v for i, value in enumerate(values) for _, v in stream.push(i, value)]
    out += [v for _, v in stream.flush()]
    return np.stack(out) if out else np.asarray(values, np.float64)


def window(values: np.ndarray, radius: int = 4, order: int = 2) -> np.ndarray:
    """`Window` over a whole clip (T, ...)."""
    return run(Window(radius, order), values)
