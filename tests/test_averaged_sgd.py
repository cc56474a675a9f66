"""AveragedSGD: AWD-LSTM's non-monotonic trigger and the average of the iterates after it."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from kasm_keras.training.averaged_sgd import AveragedSGD

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)


def _awd_trigger(losses, nonmono):
    """Index of the loss at which AWD's main.py switches to ASGD (None if it never does)."""
    logs = []
    for index, loss in enumerate(losses):
        if len(logs) > nonmono and loss > min(logs[:-nonmono]):
            return index
        logs.append(loss)
    return None


def _fires_at(losses, nonmono):
    optimizer = AveragedSGD(nonmono=nonmono)
    fired = [optimizer.record_validation(loss) for loss in losses]
    assert sum(fired) <= 1  # once started it stays on, and says so once
    assert optimizer.averaging == any(fired)
    return fired.index(True) if any(fired) else None


@pytest.mark.parametrize("losses,nonmono,want", [
    ([1.0, 5.0, 9.0], 2, None),  # 9 > 1, but only 2 losses came before: not more than nonmono
    ([1.0, 5.0, 5.0, 1.5], 2, 3),  # 3 before it: min(logs[:-2]) = 1 < 1.5
    ([1.0, 5.0, 5.0, 1.0], 2, None),  # equal is not worse
    ([3.0, 2.0, 1.0, 1.5, 2.5], 2, 4),  # 1.5 < min([3]); 2.5 > min([3, 2])
    ([5.0, 4.0, 3.0, 2.0, 1.0, 9.0], 5, None),  # 5 before it: not more than 5
    ([5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 5.5], 5, 6),  # min(logs[:-5]) = 5
    ([1.0, 0.5, 1.5], 1, 2),
    ([2.0, 1.0, 1.5], 1, None),
])
def test_trigger_is_awds_condition(losses, nonmono, want):
    assert _awd_trigger(losses, nonmono) == want
    assert _fires_at(losses, nonmono) == want


def test_average_after_starts_averaging_at_that_validation_at_the_latest():
    creeping = [5.0, 4.0, 3.5, 3.2, 3.1, 3.05, 3.0, 2.98]  # the trigger never fires on these
    assert _fires_at(creeping, 2) is None
    optimizer = AveragedSGD(nonmono=2, average_after=4)
    assert [optimizer.record_validation(loss) for loss in creeping] == [
        False, False, False, True, False, False, False, False]
    # The trigger still fires first when it can.
    early = AveragedSGD(nonmono=1, average_after=6)
    assert [early.record_validation(loss) for loss in [1.0, 0.5, 1.5, 0.4]] == [
        False, False, True, False]


def test_trigger_matches_awd_on_random_sequences(rng):
    fired = 0
    for _ in range(60):
        nonmono = int(rng.integers(1, 6))
        losses = list(np.round(np.cumsum(rng.normal(-0.2, 1.0, size=25)), 1))  # ties happen
        want = _awd_trigger(losses, nonmono)
        fired += want is not None
        assert _fires_at(losses, nonmono) == want, (losses, nonmono)
    assert 10 < fired < 60


def _problem(rng):
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 2)).astype("float32")
    return x, y, rng.normal(size=(3, 2)).astype("float32"), rng.normal(size=(2,)).astype("float32")


def _trainer(w0, b0, **options):
    """Variables, optimizer and a tf.function step on a least-squares problem."""
    w, b = keras.Variable(w0), keras.Variable(b0)
    optimizer = AveragedSGD(**{"learning_rate": 0.05, "nonmono": 1, **options})
    optimizer.build([w, b])

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
        optimizer.apply(tape.gradient(loss, [w, b]), [w, b])

    return [w, b], optimizer, step


def _start_averaging(optimizer):
    assert [optimizer.record_validation(loss) for loss in (2.0, 1.0, 3.0)] == [False, False, True]


def test_average_is_the_mean_of_the_iterates_since_the_switch(rng):
    x, y, w0, b0 = _problem(rng)
    variables, optimizer, step = _trainer(w0, b0)
    for _ in range(3):
        step(x, y)
    averages = [optimizer._averages[i] for i in range(2)]
    for variable, average in zip(variables, averages):  # before the switch: left alone
        np.testing.assert_array_equal(average.numpy(), np.zeros(variable.shape))
    before = [v.numpy() for v in variables]
    with optimizer.averaged_weights(variables):  # and nothing to swap in
        for variable, value in zip(variables, before):
            np.testing.assert_array_equal(variable.numpy(), value)
    _start_averaging(optimizer)
    iterates = [[], []]
    for _ in range(5):
        step(x, y)
        for i, variable in enumerate(variables):
            iterates[i].append(variable.numpy())
    assert int(optimizer.iterations) == 8
    for average, values in zip(averages, iterates):
        np.testing.assert_allclose(average.numpy(), np.mean(values, axis=0), rtol=1e-6, atol=1e-7)
    assert np.abs(before[0] - variables[0].numpy()).max() > 1e-3

    raw = [v.numpy() for v in variables]
    with optimizer.averaged_weights(variables):
        for variable, values in zip(variables, iterates):
            np.testing.assert_allclose(variable.numpy(), np.mean(values, axis=0), rtol=1e-6,
                                       atol=1e-7)
    for variable, value in zip(variables, raw):  # the raw iterates are back
        np.testing.assert_array_equal(variable.numpy(), value)
    with pytest.raises(RuntimeError):
        with optimizer.averaged_weights([variables[1]]):  # a subset; restored on errors too
            raise RuntimeError
    np.testing.assert_array_equal(variables[1].numpy(), raw[1])
    optimizer.finalize_variable_values(variables)
    for variable, average in zip(variables, averages):
        np.testing.assert_array_equal(variable.numpy(), average.numpy())


def test_weight_decay_is_awds_l2_term(rng):
    """For plain SGD Keras' decoupled decay is AWD's wd * w added to the gradient."""
    x, y, w0, b0 = _problem(rng)
    (w, b), _, step = _trainer(w0, b0, weight_decay=0.1, learning_rate=0.2)
    step(x, y)
    residual = x @ w0 + b0 - y
    grad_w = 2 * x.T @ residual / residual.size
    grad_b = 2 * residual.sum(axis=0) / residual.size
    np.testing.assert_allclose(w.numpy(), w0 - 0.2 * (grad_w + 0.1 * w0), rtol=1e-5)
    np.testing.assert_allclose(b.numpy(), b0 - 0.2 * (grad_b + 0.1 * b0), rtol=1e-5)


@pytest.mark.parametrize("switch_before_checkpoint", [False, True])
def test_checkpoint_resumes_trigger_and_average(rng, tmp_path, switch_before_checkpoint):
    """A fresh optimizer restored from a checkpoint of `optimizer.variables` goes on exactly as
    the one that was saved: the ring of recent losses, the switch step and the averages."""
    x, y, w0, b0 = _problem(rng)
    losses = [1.0, 2.0, 0.5, 0.8, 1.5, 4.0, 0.5]  # nonmono=3: fires at 1.5 (> min([1.0]))
    cut = 5 if switch_before_checkpoint else 4

    def run(variables, optimizer, step, validations):
        fired = []
        for loss in validations:
            step(x, y)
            step(x, y)
            fired.append(optimizer.record_validation(loss))
        return fired

    variables, optimizer, step = _trainer(w0, b0, nonmono=3)
    first = run(variables, optimizer, step, losses[:cut])
    checkpoint = tf.train.Checkpoint(model=variables, optimizer=list(optimizer.variables))
    path = checkpoint.write(str(tmp_path / "ckpt"))
    rest = run(variables, optimizer, step, losses[cut:])
    assert first + rest == [False] * 4 + [True, False, False]

    fresh_variables, fresh, fresh_step = _trainer(np.zeros_like(w0), np.zeros_like(b0), nonmono=3)
    assert not fresh.averaging
    tf.train.Checkpoint(model=fresh_variables, optimizer=list(fresh.variables)).read(
        path).assert_consumed()
    assert fresh.averaging == switch_before_checkpoint
    assert run(fresh_variables, fresh, fresh_step, losses[cut:]) == rest
    assert fresh.averaging
    for mine, theirs in zip(fresh.variables + fresh_variables, optimizer.variables + variables):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy(), err_msg=mine.path)


def test_trains_in_fit_under_xla_and_finalizes_to_the_average(rng):
    """`fit` compiles the step (here with XLA); at its end `finalize_variable_values` leaves the
    model holding the average of its iterates."""
    x = rng.normal(size=(32, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.1 * rng.normal(size=(32, 1))).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    optimizer = AveragedSGD(learning_rate=0.05, nonmono=1, global_clipnorm=1.0)
    _start_averaging(optimizer)  # before the first step: averaging from step 0
    model.compile(optimizer, "mse", jit_compile=True)
    iterates = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: iterates.append(model.layers[0].kernel.numpy()))
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False, callbacks=[record])
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert len(iterates) == 8
    np.testing.assert_allclose(model.layers[0].kernel.numpy(), np.mean(iterates, axis=0),
                               rtol=1e-5, atol=1e-6)


def test_config_round_trip_and_validation():
    optimizer = AveragedSGD(learning_rate=2.5, nonmono=7, weight_decay=1e-4, global_clipnorm=0.25,
                            average_after=12, name="nt_asgd")
    config = optimizer.get_config()
    assert (config["nonmono"], config["learning_rate"], config["weight_decay"],
            config["global_clipnorm"], config["momentum"], config["average_after"]) == (
        7, 2.5, 1e-4, 0.25, 0.0, 12)
    assert AveragedSGD.from_config(config).get_config() == config
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(restored, AveragedSGD) and restored.get_config() == config
    assert AveragedSGD().get_config()["learning_rate"] == 30.0
    for nonmono in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="nonmono"):
            AveragedSGD(nonmono=nonmono)
    for average_after in (0, 1.5, False):
        with pytest.raises(ValueError, match="average_after"):
            AveragedSGD(average_after=average_after)


_MIRRORED = """
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from kasm_keras.training.averaged_sgd import AveragedSGD

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8,)).astype("float32")
    w0 = rng.normal(size=(3,)).astype("float32")

    def run(strategy):
        with strategy.scope():
            w = keras.Variable(w0)
            optimizer = AveragedSGD(learning_rate=0.1, nonmono=1, weight_decay=0.01)
            optimizer.build([w])
        per_replica = 8 // strategy.num_replicas_in_sync

        def replica_step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum((tf.linalg.matvec(x, w) - y) ** 2) / 8
            optimizer.apply(tape.gradient(loss, [w]), [w])

        @tf.function
        def step():
            def piece(ctx):
                start = ctx.replica_id_in_sync_group * per_replica
                return x[start:start + per_replica], y[start:start + per_replica]
            pieces = strategy.experimental_distribute_values_from_function(piece)
            strategy.run(replica_step, args=pieces)

        step()
        assert [optimizer.record_validation(v) for v in (1.0, 2.0, 3.0)] == [False, False, True]
        iterates = []
        for _ in range(4):
            step()
            iterates.append(w.numpy())
        average = optimizer._averages[0]
        copies = getattr(average.value, "values", [average.value])
        for copy in copies:  # every replica holds the same average
            np.testing.assert_allclose(copy.numpy(), np.mean(iterates, axis=0), rtol=1e-6)
        with optimizer.averaged_weights([w]):
            np.testing.assert_array_equal(w.numpy(), average.numpy())
        return w.numpy(), average.numpy(), len(copies)

    one = run(tf.distribute.get_strategy())
    two = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    assert two[2] == 2
    np.testing.assert_allclose(one[0], two[0], rtol=1e-6)
    np.testing.assert_allclose(one[1], two[1], rtol=1e-6)
    print("mirrored ok")
"""


def test_mirrored_strategy_on_two_devices():
    """Two replicas (logical CPU devices, which must be set before TensorFlow starts: hence a
    process of its own) keep the same averages as one, on each replica."""
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2",
           "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(_MIRRORED)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "mirrored ok" in result.stdout, result.stderr[-3000:]
