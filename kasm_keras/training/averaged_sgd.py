"""NT-ASGD, the optimiser of AWD-LSTM (Merity et al. 2017, "Regularizing and Optimizing LSTM
Language Models", section 3): plain SGD until the validation loss stops improving, then the
uniform average of the iterates, which generalises better than the last iterate.

`AveragedSGD` is a Keras SGD that keeps that average once a non-monotonic trigger fires:
train with it as with SGD, validate inside `averaged_weights()` and pass each validation loss
to `record_validation`.

Everything it keeps (the recorded losses, the step averaging started at, the averages) is in
`optimizer.variables`, so a checkpoint of them resumes the trigger and the average exactly.
"""

import contextlib

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="kasm_keras")
class AveragedSGD(keras.optimizers.SGD):
    """SGD that switches to averaged SGD by AWD-LSTM's non-monotonic trigger.

    After each validation, `record_validation(loss)`. Averaging starts on the call where more
    than `nonmono` losses were recorded before it and `loss` is above the least of them leaving
    out the last `nonmono` (AWD: `len(logs) > nonmono and loss > min(logs[:-nonmono])`, checked
    before `loss` is appended): the loss has not improved on what it was `nonmono` validations
    ago. Once started it does not stop. From then on every step also updates, per trainable
    variable, avg <- avg + (w - avg) / (k + 1), w the weights after the step and k the steps
    averaged before it, so avg is the mean of the iterates since the switch. (AWD's
    `torch.optim.ASGD(t0=0, lambd=0)` leaves out the first of them, a quirk of its step count
    that is not kept here.)

    Args:
        learning_rate: AWD's 30 (its gradients are clipped to a global norm of 0.25).
        nonmono: n of the trigger, at least 1 (AWD's default: 5).
        average_after: averaging starts with this validation at the latest (None: only by the
            trigger). AWD's 500 epochs leave the trigger time to fire; a budget of tens of
            epochs, over which the validation loss still creeps down, may end before it does,
            and never average.
        weight_decay: Keras' decoupled decay, w <- w - lr * wd * w before the step; for SGD
            without momentum that is AWD's L2 term (wd * w added to the gradient).
        global_clipnorm: and the rest: as `keras.optimizers.SGD` (NT-ASGD keeps momentum at 0).

    The trigger and `averaged_weights` run eagerly, between training steps; the steps may be
    in a `tf.function` and under a `tf.distribute` strategy (the averages are updated in
    `update_step`, beside the weights they follow, as the momentum slots are). Under a
    `LossScaleOptimizer`, call these on its `inner_optimizer`.

    Examples:
        AWD-LSTM's settings are `AveragedSGD(30.0, nonmono=5, weight_decay=1.2e-6,
        global_clipnorm=0.25)`. A small run: the fourth loss is above the best one before the
        last (`nonmono=1`), so averaging starts, and the steps after are averaged:

        >>> import keras, numpy as np
        >>> from kasm_keras.training.averaged_sgd import AveragedSGD
        >>> w = keras.Variable([0.0])
        >>> optimizer = AveragedSGD(learning_rate=1.0, nonmono=1)
        >>> optimizer.build([w])
        >>> [optimizer.record_validation(loss) for loss in (2.0, 1.0, 1.5, 1.5)]
        [False, False, False, True]
        >>> for _ in range(2):
        ...     optimizer.apply([np.array([-1.0])], [w])
        >>> w.numpy()  # the iterates were 1 and 2
        array([2.], dtype=float32)
        >>> with optimizer.averaged_weights():
        ...     w.numpy()
        array([1.5], dtype=float32)
    """

    def __init__(self, learning_rate=30.0, nonmono=5, weight_decay=None, global_clipnorm=None,
                 average_after=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         global_clipnorm=global_clipnorm, **kwargs)
        if not isinstance(nonmono, int) or isinstance(nonmono, bool) or nonmono < 1:
            raise ValueError(f"nonmono must be a positive integer, got nonmono={nonmono!r}")
        self.nonmono = nonmono
        if average_after is not None and (not isinstance(average_after, int) or
                                          isinstance(average_after, bool) or average_after < 1):
            raise ValueError(f"average_after must be a positive integer or None, got "
                             f"average_after={average_after!r}")
        self.average_after = average_after
        # The trigger's state, created before `build` so a validation may come first. The last
        # `nonmono` losses in a ring (slot = count % nonmono), and the least of the older ones.
        kept = {"aggregation": "only_first_replica"}
        self._recent_losses = self.add_variable(
            (nonmono,), dtype="float64", name="recent_validation_losses", **kept)
        self._older_loss_min = self.add_variable(
            (), initializer=keras.initializers.Constant(np.inf), dtype="float64",
            name="older_validation_loss_min", **kept)
        self._validations = self.add_variable((), dtype="int64", name="validations", **kept)
        self._averaging_start = self.add_variable(
            (), initializer=keras.initializers.Constant(-1), dtype="int64",
            name="averaging_start", **kept)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._averages = self.add_optimizer_variables(variables, "iterate_average")

    @property
    def averaging(self):
        """Whether the trigger has fired (eager)."""
        return int(self._averaging_start.numpy()) >= 0

    def record_validation(self, loss):
        """Records a validation loss and checks the trigger (eager, between steps).

        Args:
            loss: the validation loss, a float (or a scalar tensor).

        Returns:
            True if averaging starts with this call, else False.
        """
        loss = float(loss)
        count = int(self._validations.numpy())
        recent = np.array(self._recent_losses.numpy())
        older_min = float(self._older_loss_min.numpy())
        # older_min is min(logs[:-nonmono]) of the losses before this one (inf while count <=
        # nonmono); the comparison is strict, as AWD's.
        triggered = count > self.nonmono and loss > older_min
        due = self.average_after is not None and count + 1 >= self.average_after
        starts = not self.averaging and (triggered or due)
        if starts:
            self._averaging_start.assign(int(self.iterations.numpy()))
        slot = count % self.nonmono
        if count >= self.nonmono:  # logs[count - nonmono] leaves the last nonmono
            older_min = min(older_min, float(recent[slot]))
        recent[slot] = loss
        self._recent_losses.assign(recent)
        self._older_loss_min.assign(older_min)
        self._validations.assign(count + 1)
        return starts

    def update_step(self, gradient, variable, learning_rate):
        super().update_step(gradient, variable, learning_rate)
        average = self._averages[self._get_variable_index(variable)]
        if average is None:
            return

        def accumulate():
            # k = steps averaged before this one (`iterations` counts this step only after it).
            k = ops.cast(self.iterations - self._averaging_start, variable.dtype)
            self.assign_add(average, ops.divide(ops.subtract(variable, average), k + 1))

        # Before the switch the averages are left alone: no pass over the weights per step.
        # (A variable without a gradient at some step misses that step's term, and its average
        # is then weighted slightly off; every variable of a language model has a gradient.)
        ops.cond(self._averaging_start >= 0, accumulate, lambda: None)

    def _pairs(self, variables):
        variables = self._trainable_variables if variables is None else list(variables)
        pairs = [(v, self._averages[self._get_variable_index(v)]) for v in variables]
        return [(v, a) for v, a in pairs if a is not None]

    @contextlib.contextmanager
    def averaged_weights(self, variables=None):
        """A block within which the variables hold their averages (eager).

        For validating and saving the averaged model while training goes on with the raw
        iterates: after the block they hold their own values again. Before the switch it
        changes nothing.

        Args:
            variables: the variables to swap (default: all it was built with).

        Returns:
            A context manager.
        """
        if not self.averaging:
            yield
            return
        pairs = self._pairs(variables)
        raw = [ops.copy(v) for v, _ in pairs]
        try:
            for v, average in pairs:
                v.assign(average)
            yield
        finally:
            for (v, _), value in zip(pairs, raw):
                v.assign(value)

    def finalize_variable_values(self, var_list):
        """What `fit` calls at its end: once averaging, the variables take their averages."""
        super().finalize_variable_values(var_list)
        if self.averaging:
            for v, average in self._pairs(var_list):
                v.assign(average)

    def get_config(self):
        return {**super().get_config(), "nonmono": self.nonmono,
                "average_after": self.average_after}
