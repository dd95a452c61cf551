"""Speed kernel: gradient steps in numpy (PPO, A2C, DQN), with the backward pass written out.

On the tiny nets of classic control and Box2D (two hidden layers of 64), a PPO
minibatch step through torch costs ~1 ms, nearly all of it per-op dispatch and
autograd bookkeeping; the same maths in numpy costs a fraction of that (a DQN
step on a 128x128 Q-network: ~2.4x less).  This module holds only that maths;
``ppo.py``, ``a2c.py`` and ``dqn.py`` keep their torch losses as the reference,
and ``tests/test_numpy_update.py`` checks that losses, gradients and updated
weights equal torch's.

:class:`FlatParams` makes the model's parameters views of one float32 array, so
the torch model, the numpy actor and this update share the same weights.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch

from harness_algos.nets import LOG_SQRT_2PI, ActorCritic, CategoricalHead

if TYPE_CHECKING:
    from harness_algos.offpolicy_nets import NumpyMLP
    from harness_algos.onpolicy import Batch
    from harness_algos.replay import Batch as ReplayBatch

#: One layer's ((weight, weight gradient), (bias, bias gradient)) arrays, as FlatParams.of gives them.
Layer = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class FlatParams:
    """A model's parameters as views of one contiguous float32 array, gradients in another."""

    def __init__(self, params: list[torch.nn.Parameter]):
        self.data = np.empty(sum(p.numel() for p in params), np.float32)
        self.grad = np.zeros_like(self.data)
        self._views: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        offset = 0
        for p in params:
            n = p.numel()
            data, grad = self.data[offset:offset + n].reshape(p.shape), self.grad[offset:offset + n].reshape(p.shape)
            data[...] = p.detach().cpu().numpy()
            p.data = torch.from_numpy(data)  # the torch parameter now lives in self.data
            self._views[id(p)] = data, grad
            offset += n

    def of(self, p: torch.nn.Parameter) -> tuple[np.ndarray, np.ndarray]:
        """(weights, gradient) arrays of parameter ``p``."""
        return self._views[id(p)]

    def clip_grad_norm(self, max_norm: float | None) -> None:
        """Scale the gradient to global L2 norm ``max_norm`` when above it (``clip_grad_norm_``'s rule)."""
        if max_norm:
            norm = math.sqrt(float(np.dot(self.grad, self.grad)))
            if norm > max_norm:
                self.grad *= max_norm / (norm + 1e-6)


class Adam:
    """torch.optim.Adam's update (no weight decay) on a :class:`FlatParams`, in two preallocated buffers."""

    def __init__(self, flat: FlatParams, lr: float, eps: float = 1e-8, betas: tuple[float, float] = (0.9, 0.999)):
        self.flat, self.eps, self.betas, self.steps = flat, eps, betas, 0
        self.param_groups = [{"lr": lr}]
        self.exp_avg, self.exp_avg_sq = np.zeros_like(flat.data), np.zeros_like(flat.data)
        self._step, self._denom = np.empty_like(flat.data), np.empty_like(flat.data)

    def step(self) -> None:
        (beta1, beta2), grad, step, denom = self.betas, self.flat.grad, self._step, self._denom
        self.steps += 1
        # exp_avg += (1 - beta1) * (grad - exp_avg);  exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * grad^2
        np.subtract(grad, self.exp_avg, out=step)
        step *= 1 - beta1
        self.exp_avg += step
        self.exp_avg_sq *= beta2
        np.multiply(grad, 1 - beta2, out=step)
        step *= grad
        self.exp_avg_sq += step
        # data -= lr / (1 - beta1^t) * exp_avg / (sqrt(exp_avg_sq) / sqrt(1 - beta2^t) + eps)
        np.sqrt(self.exp_avg_sq, out=denom)
        denom /= math.sqrt(1 - beta2**self.steps)
        denom += self.eps
        np.multiply(self.exp_avg, self.param_groups[0]["lr"] / (1 - beta1**self.steps), out=step)
        step /= denom
        self.flat.data -= step


class RMSprop:
    """torch.optim.RMSprop's update (not centred, no momentum) on a :class:`FlatParams`."""

    def __init__(self, flat: FlatParams, lr: float, alpha: float, eps: float):
        self.flat, self.alpha, self.eps = flat, alpha, eps
        self.param_groups = [{"lr": lr}]
        self.square_avg = np.zeros_like(flat.data)

    def step(self) -> None:
        grad = self.flat.grad
        self.square_avg *= self.alpha
        self.square_avg += (1 - self.alpha) * grad * grad
        self.flat.data -= self.param_groups[0]["lr"] * grad / (np.sqrt(self.square_avg) + self.eps)


def mlp_forward(x: np.ndarray, layers: list[Layer], tanh: bool) -> tuple[np.ndarray, list[np.ndarray]]:
    """Output of a tanh or ReLU MLP (``nn.Linear`` layers) and the input of every layer, for :func:`mlp_backward`."""
    acts = [x]
    for depth, ((weight, _), (bias, _)) in enumerate(layers, 1):
        x = x @ weight.T
        x += bias
        if depth < len(layers):  # a hidden layer: its activation in place (no rows x width temporaries)
            np.tanh(x, out=x) if tanh else np.maximum(x, 0.0, out=x)
            acts.append(x)
    return x, acts


def mlp_backward(grad_out: np.ndarray, acts: list[np.ndarray], layers: list[Layer], tanh: bool) -> None:
    """Write the gradients of every layer's weights and bias, given the loss's gradient at the output."""
    for i in range(len(layers) - 1, -1, -1):
        (weight, weight_grad), (_, bias_grad) = layers[i]
        np.matmul(grad_out.T, acts[i], out=weight_grad)
        np.add.reduce(grad_out, 0, out=bias_grad)
        if i:
            grad_out = grad_out @ weight
            if tanh:  # tanh' = 1 - a^2, in one temporary
                slope = np.multiply(acts[i], acts[i])
                grad_out *= np.subtract(1.0, slope, out=slope)
            else:
                grad_out *= acts[i] > 0


class Forward(NamedTuple):
    """What the backward pass needs from the forward pass of one minibatch."""

    policy_acts: list[np.ndarray]
    critic_acts: list[np.ndarray]
    logp: np.ndarray
    entropy: np.ndarray
    values: np.ndarray
    extra: np.ndarray
    """categorical: log-probabilities of every action; Gaussian: standardised actions z"""


class ActorCriticGrads:
    """Forward and hand-written backward pass of an :class:`ActorCritic` (CPU, tanh or relu).

    ``forward`` gives per-row log-probabilities of the taken actions, entropies and values;
    ``backward`` takes the loss's derivatives with respect to those and writes the
    parameters' gradients into the :class:`FlatParams`.
    """

    def __init__(self, model: ActorCritic, flat: FlatParams, activation: str):
        self.flat, self.tanh = flat, activation == "tanh"
        self.policy = [(flat.of(layer.weight), flat.of(layer.bias)) for layer in model.policy.layers]
        self.critic = [(flat.of(layer.weight), flat.of(layer.bias)) for layer in model.critic.layers]
        self.discrete = isinstance(model.head, CategoricalHead)
        self.log_std = None if self.discrete else flat.of(model.head.log_std)

    def forward(self, obs: np.ndarray, actions: np.ndarray) -> Forward:
        out, policy_acts = mlp_forward(obs, self.policy, self.tanh)
        values, critic_acts = mlp_forward(obs, self.critic, self.tanh)
        if self.discrete:  # (ufunc reductions: the same sums as .max()/.sum() without their Python wrappers)
            shifted = out - np.maximum.reduce(out, 1, keepdims=True)
            exp = np.exp(shifted)
            total = np.add.reduce(exp, 1, keepdims=True)
            extra = shifted - np.log(total)  # log-probabilities
            logp = extra[np.arange(len(out)), actions]
            entropy = -np.add.reduce(exp / total * extra, 1)
        else:
            log_std = self.log_std[0]
            extra = (actions - out) / np.exp(log_std)
            logp = (-0.5 * extra * extra - log_std - LOG_SQRT_2PI).sum(1)
            entropy = np.full(len(out), (log_std + 0.5 + LOG_SQRT_2PI).sum(), np.float32)
        return Forward(policy_acts, critic_acts, logp, entropy, values[:, 0], extra)

    def backward(self, f: Forward, actions: np.ndarray, d_logp: np.ndarray, d_entropy: float,
                 d_values: np.ndarray) -> None:
        """Gradients of a loss with per-row derivatives ``d_logp``, ``d_values`` and ``d_entropy`` on every row."""
        if self.discrete:
            log_probs = f.extra
            probs = np.exp(log_probs)
            # d logp / d logits = onehot - p;  d H / d logits = -p (log p + H)
            d_out = -probs * d_logp[:, None]
            d_out[np.arange(len(d_out)), actions] += d_logp
            if d_entropy:
                d_out -= d_entropy * probs * (log_probs + f.entropy[:, None])
        else:
            _, log_std_grad = self.log_std
            std = np.exp(self.log_std[0])
            d_out = (d_logp[:, None] * f.extra) / std  # d logp / d mean = z / std
            log_std_grad[...] = (d_logp[:, None] * (f.extra * f.extra - 1.0)).sum(0) + d_entropy * len(d_logp)
        mlp_backward(d_out.astype(np.float32, copy=False), f.policy_acts, self.policy, self.tanh)
        mlp_backward(d_values[:, None].astype(np.float32, copy=False), f.critic_acts, self.critic, self.tanh)


# --- the algorithms' losses, differentiated by hand ----------------------------------------------
def mean(x: np.ndarray) -> np.floating:
    """``x.mean()`` of a 1-D float array (the same sum and division) without ``np.mean``'s Python overhead."""
    return np.add.reduce(x) / len(x)


def ppo_step(grads: ActorCriticGrads, optimizer: Adam, mb: Batch, clip: float, vf_coef: float,
             ent_coef: float, clip_value: float | None, max_grad_norm: float | None) -> np.ndarray:
    """One PPO gradient step on a minibatch of numpy arrays (``PPOAgent.loss``, backward, clipping,
    Adam); returns [policy loss, value loss, approx KL, clip fraction, entropy] as ``PPOAgent.loss`` does."""
    f, rows = grads.forward(mb.obs, mb.actions), len(mb.obs)
    log_ratio = f.logp - mb.logp
    ratio = np.exp(log_ratio)
    unclipped, clipped = ratio * mb.advantages, np.minimum(np.maximum(ratio, 1 - clip), 1 + clip) * mb.advantages
    policy_loss = -mean(np.minimum(unclipped, clipped))
    # torch.min sends the gradient to the smaller side (half to each on a tie, which happens exactly
    # when the ratio is inside the clip range, where clamp passes it on): so the unclipped side's.
    d_logp = (unclipped <= clipped) * mb.advantages * ratio / -rows

    error = f.values - mb.returns
    if clip_value is None:
        v_loss, d_values = mean(error * error), error
    else:
        moved = f.values - mb.values
        clipped_error = mb.values + np.clip(moved, -clip_value, clip_value) - mb.returns
        a, b = error * error, clipped_error * clipped_error
        v_loss = mean(np.maximum(a, b))
        through_clip = clipped_error * (np.abs(moved) <= clip_value)
        d_values = np.where(a > b, error, np.where(a < b, through_clip, 0.5 * (error + through_clip)))
    d_values = d_values * (2.0 * vf_coef / rows)

    grads.backward(f, mb.actions, d_logp, -ent_coef / rows, d_values)
    grads.flat.clip_grad_norm(max_grad_norm)
    optimizer.step()
    approx_kl = mean((ratio - 1) - log_ratio)
    clip_fraction = np.count_nonzero(np.abs(ratio - 1) > clip) / rows
    return np.array([policy_loss, v_loss, approx_kl, clip_fraction, mean(f.entropy)], np.float32)


def a2c_step(grads: ActorCriticGrads, optimizer: Adam | RMSprop, mb: Batch, vf_coef: float, ent_coef: float,
             max_grad_norm: float | None) -> np.ndarray:
    """One A2C gradient step on the whole rollout as numpy arrays (``A2CAgent.update``'s loss); returns
    [policy loss, value loss, entropy]; ``mb.advantages`` already normalised if asked."""
    f, rows = grads.forward(mb.obs, mb.actions), len(mb.obs)
    policy_loss = -(mb.advantages * f.logp).mean()
    error = f.values - mb.returns
    grads.backward(f, mb.actions, -mb.advantages / rows, -ent_coef / rows, error * (2.0 * vf_coef / rows))
    grads.flat.clip_grad_norm(max_grad_norm)
    optimizer.step()
    return np.array([policy_loss, (error * error).mean(), f.entropy.mean()], np.float32)


class QNetGrads:
    """A ReLU Q-network (:func:`harness_algos.offpolicy_nets.mlp`) moved into a :class:`FlatParams`, with Adam."""

    def __init__(self, q: torch.nn.Sequential, learning_rate: float):
        self.flat = FlatParams(list(q.parameters()))
        self.layers = [(self.flat.of(m.weight), self.flat.of(m.bias)) for m in q if isinstance(m, torch.nn.Linear)]
        self.optimizer = Adam(self.flat, learning_rate)


def dqn_step(grads: QNetGrads, online: NumpyMLP, target: NumpyMLP, batch: ReplayBatch, gamma: float,
             double_q: bool, max_grad_norm: float) -> np.ndarray:
    """One DQN gradient step on a sampled batch of CPU tensors (``DQNAgent._update``: double-DQN target,
    Huber loss, gradient clipping, Adam); ``online``/``target`` act with the current weights.
    Returns [Huber loss, mean Q of the taken actions]."""
    b = type(batch)(*(x.numpy() for x in batch))  # the same fields as numpy views
    rows = np.arange(len(b.obs))
    q_next = target(b.next_obs)
    best = (online(b.next_obs) if double_q else q_next).argmax(1)
    td_target = b.rewards + gamma * (1.0 - b.terminated) * q_next[rows, best]
    out, acts = mlp_forward(b.obs, grads.layers, tanh=False)
    q = out[rows, b.actions]
    error = q - td_target
    size = np.abs(error)
    loss = np.where(size < 1.0, 0.5 * error * error, size - 0.5).mean()  # smooth_l1_loss (beta 1)
    d_out = np.zeros_like(out)
    d_out[rows, b.actions] = np.clip(error, -1.0, 1.0) / len(rows)  # smooth_l1_loss's gradient (beta 1)
    mlp_backward(d_out, acts, grads.layers, tanh=False)
    grads.flat.clip_grad_norm(max_grad_norm)
    grads.optimizer.step()
    return np.array([loss, q.mean()], np.float32)
