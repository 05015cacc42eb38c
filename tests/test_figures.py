"""The paper's figures: exact nearest neighbours (Fig. 2), interpolation in z (Fig. 3), the encoder's (§7.2)."""

import pytest
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torch import nn
from torch.testing import assert_close

from ganbench import GAN
from ganbench.callbacks import PaperFigures
from ganbench.callbacks.figures import same_class_pairs
from ganbench.errors import ConfigError
from ganbench.figures import (
    encoder_interpolation_grid,
    image_grid,
    interpolation_grid,
    interpolation_noise,
    nearest_neighbour_grid,
    nearest_neighbours,
)
from ganbench.nets import MaxoutDiscriminator, MLPEncoder, MLPGenerator
from ganbench.nets.base import Encoder
from tests.conftest import RandomImages, tiny_gan, tiny_trainer

SHAPE = (1, 4, 4)


class TinyEncoder(Encoder):
    """E: flattened pixels -> latents, one linear layer (with dropout, to see that it runs in eval mode)."""

    def __init__(self, latent_dim: int = 3, image_shape=SHAPE):
        super().__init__()
        self.latent_dim = latent_dim
        self.dropout = nn.Dropout(0.5)
        self.linear = nn.Linear(int(torch.tensor(image_shape).prod()), latent_dim)

    def forward(self, images):
        return self.linear(self.dropout(images.flatten(1)))


def tile(grid: torch.Tensor, row: int, column: int, size=(4, 4), padding: int = 2) -> torch.Tensor:
    """The image at (row, column) of a ``make_grid`` grid, first channel."""
    height, width = size[0] + padding, size[1] + padding
    top, left = padding + row * height, padding + column * width
    return grid[0, top : top + size[0], left : left + size[1]]


# ---------------------------------------------------------------------- nearest neighbours


@pytest.mark.parametrize("batch_size", [1, 4, 2048])
def test_nearest_neighbours_agree_with_brute_force(batch_size):
    generator = torch.Generator().manual_seed(0)
    queries = torch.rand(13, 3, 5, 4, generator=generator)
    references = torch.rand(57, 3, 5, 4, generator=generator)
    indices, distances = nearest_neighbours(queries, references, batch_size=batch_size)
    brute = torch.cdist(queries.flatten(1).double(), references.flatten(1).double())
    assert torch.equal(indices, brute.argmin(dim=1))
    assert distances.dtype == torch.float64
    assert_close(distances, brute.min(dim=1).values.square())


def test_nearest_neighbours_of_a_hand_built_case():
    # References: black, grey, white and an image with one white pixel; a copy of one is at distance 0.
    references = torch.stack(
        [torch.zeros(1, 2, 2), torch.full((1, 2, 2), 0.5), torch.ones(1, 2, 2), torch.zeros(1, 2, 2)]
    )
    references[3, 0, 0, 0] = 1.0
    queries = torch.stack([torch.full((1, 2, 2), 0.6), torch.full((1, 2, 2), 0.95), references[3].clone()])
    queries[0, 0, 0, 0] = 0.5
    indices, distances = nearest_neighbours(queries, references, batch_size=2)
    assert indices.tolist() == [1, 2, 3]
    assert_close(distances, torch.tensor([3 * 0.1**2, 4 * 0.05**2, 0.0], dtype=torch.float64))
    assert distances[2] == 0  # recomputed directly, not by the expansion


def test_nearest_neighbours_tie_goes_to_the_lower_index():
    references = torch.stack([torch.zeros(1, 2, 2), torch.ones(1, 2, 2), torch.ones(1, 2, 2), torch.zeros(1, 2, 2)])
    queries = torch.full((2, 1, 2, 2), 0.9)
    indices, _ = nearest_neighbours(queries, references, batch_size=1)
    assert indices.tolist() == [1, 1]


def test_nearest_neighbours_refuses_images_of_another_shape():
    with pytest.raises(ConfigError, match="cannot be compared"):
        nearest_neighbours(torch.zeros(2, 1, 4, 4), torch.zeros(3, 1, 5, 5))


def test_nearest_neighbour_grid_puts_each_sample_beside_its_nearest():
    generator = torch.Generator().manual_seed(1)
    samples, references = torch.rand(5, *SHAPE, generator=generator), torch.rand(40, *SHAPE, generator=generator)
    indices, _ = nearest_neighbours(samples, references)
    grid = nearest_neighbour_grid(samples, references, pairs_per_row=2, value_range=(0.0, 1.0))
    assert grid.shape == (3, 2 + 3 * 6, 2 + 2 * 12)  # 3 rows of 2 pairs, each pair 4 + 2 + 4 pixels wide
    for number in range(5):
        row, column = divmod(number, 2)
        pair = tile(grid, row, column, size=(4, 10))
        assert_close(pair[:, :4], samples[number, 0])
        assert (pair[:, 4:6] == 0).all()  # the dark gap
        assert_close(pair[:, 6:], references[indices[number], 0])
    assert (grid[:, :2] == 1).all()  # white frame


# ---------------------------------------------------------------------- interpolation in z


def test_interpolation_noise_starts_and_ends_exactly_and_its_midpoint_is_the_mean():
    generator = torch.Generator().manual_seed(0)
    start, end = torch.randn(7, generator=generator), torch.randn(7, generator=generator)
    line = interpolation_noise(start, end, 5)
    assert line.shape == (5, 7)
    assert torch.equal(line[0], start) and torch.equal(line[-1], end)
    assert_close(line[2], (start + end) / 2)
    assert_close(line[1] - line[0], line[4] - line[3])  # evenly spaced


def test_interpolation_noise_refuses_fewer_than_two_steps():
    with pytest.raises(ConfigError, match="steps must be >= 2"):
        interpolation_noise(torch.zeros(3), torch.ones(3), 1)


def test_interpolation_grid_is_g_along_lines_and_leaves_the_global_rng_alone():
    torch.manual_seed(0)
    gan = tiny_gan()
    state = torch.get_rng_state()
    grid = interpolation_grid(gan, rows=3, steps=4, generator=torch.Generator().manual_seed(5), value_range=(0, 1))
    assert torch.equal(torch.get_rng_state(), state)
    assert grid.shape == (3, 2 + 3 * 6, 2 + 4 * 6)
    ends = gan.prior.sample(6, gan.latent_dim, "cpu", torch.Generator().manual_seed(5))
    second_row = gan.sample(4, noise=interpolation_noise(ends[2], ends[3], 4))
    for column in range(4):
        assert_close(tile(grid, 1, column), second_row[column, 0])
    again = interpolation_grid(gan, rows=3, steps=4, generator=torch.Generator().manual_seed(5), value_range=(0, 1))
    assert torch.equal(grid, again)


def test_interpolation_grid_of_a_conditional_generator_keeps_each_rows_class():
    generator = MLPGenerator(latent_dim=3, hidden_dims=(8,), image_shape=SHAPE, num_classes=10)
    gan = GAN(generator, MaxoutDiscriminator(image_shape=SHAPE, hidden_units=(6,), pieces=2))
    grid = interpolation_grid(gan, rows=2, steps=3, generator=torch.Generator().manual_seed(0), labels=[7, 2])
    ends = gan.prior.sample(4, gan.latent_dim, "cpu", torch.Generator().manual_seed(0))
    line = interpolation_noise(ends[2], ends[3], 3)
    expected = image_grid(gan.sample(3, labels=[2, 2, 2], noise=line), 3)
    assert_close(tile(grid, 1, 2), tile(expected, 0, 2))
    with pytest.raises(ConfigError, match="labels must have shape"):
        interpolation_grid(gan, rows=2, steps=3, generator=torch.Generator(), labels=[1])


def test_interpolation_grid_refuses_labels_for_an_unconditional_generator():
    with pytest.raises(ConfigError, match="not conditional"):
        interpolation_grid(tiny_gan(), rows=1, steps=2, generator=torch.Generator(), labels=[0])


# ---------------------------------------------------------------------- interpolation through the encoder


def test_encoder_interpolation_has_the_real_images_at_the_ends_and_g_of_the_encodings_between():
    gan = tiny_gan(encoder=TinyEncoder(), encoder_mode="joint")
    gan.train()
    generator = torch.Generator().manual_seed(0)
    image_a, image_b = torch.rand(2, *SHAPE, generator=generator), torch.rand(2, *SHAPE, generator=generator)
    grid = encoder_interpolation_grid(gan, image_a, image_b, steps=4, value_range=(0.0, 1.0))
    assert grid.shape == (3, 2 + 2 * 6, 2 + 6 * 6)  # 2 rows of x_a, 4 generated, x_b
    assert gan.encoder.training and gan.generator.training  # modes restored
    with torch.no_grad():
        gan.encoder.eval()
        start, end = gan.encoder(image_a), gan.encoder(image_b)
    row = gan.sample(4, noise=interpolation_noise(start[1], end[1], 4))
    assert_close(tile(grid, 1, 0), image_a[1, 0])
    assert_close(tile(grid, 1, 5), image_b[1, 0])
    for column in range(4):
        assert_close(tile(grid, 1, column + 1), row[column, 0])


def test_encoder_interpolation_of_one_pair_and_without_an_encoder():
    gan = tiny_gan(encoder=TinyEncoder(), encoder_mode="joint")
    grid = encoder_interpolation_grid(gan, torch.rand(*SHAPE), torch.rand(*SHAPE), steps=2)
    assert grid.shape == (3, 2 + 6, 2 + 4 * 6)
    with pytest.raises(ConfigError, match="needs a GAN with an encoder"):
        encoder_interpolation_grid(tiny_gan(), torch.rand(*SHAPE), torch.rand(*SHAPE), steps=2)


def test_same_class_pairs_pair_images_of_one_class():
    labels = torch.tensor([3, 1, -1, 3, 1, 2, -1, 1, 1, 2])
    first, second = same_class_pairs(labels, 3)
    assert list(zip(first.tolist(), second.tolist())) == [(0, 3), (1, 4), (7, 8)]  # -1 is unlabelled
    assert torch.equal(labels[first], labels[second])


# ---------------------------------------------------------------------- the callback


def test_paper_figures_are_written_after_test_without_an_encoder_figure_when_there_is_no_encoder(tmp_path):
    callback = PaperFigures(num_samples=6, interpolation_rows=2, steps=3)
    trainer = tiny_trainer(tmp_path, callbacks=[callback], limit_test_batches=1)
    torch.manual_seed(0)
    state = torch.get_rng_state()
    trainer.test(tiny_gan(), datamodule=RandomImages())
    folder = tmp_path / "figures"
    assert sorted(path.name for path in folder.iterdir()) == ["interpolation.png", "nearest_neighbours.png"]
    assert callback.written == [folder / "nearest_neighbours.png", folder / "interpolation.png"]
    probe = torch.get_rng_state()
    torch.set_rng_state(state)  # what testing alone draws from the global RNG
    tiny_trainer(tmp_path / "again", limit_test_batches=1).test(tiny_gan(), datamodule=RandomImages())
    assert torch.equal(torch.get_rng_state(), probe)


def test_paper_figures_draw_the_encoder_figure_when_there_is_an_encoder_and_go_to_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    callback = PaperFigures(num_samples=4, interpolation_rows=3, steps=4, reference_split="val", reference_limit=10)
    logger = TensorBoardLogger(tmp_path, name="run", version=0)
    trainer = tiny_trainer(tmp_path, callbacks=[callback], logger=logger, limit_test_batches=1)
    trainer.test(tiny_gan(encoder=TinyEncoder(), encoder_mode="joint"), datamodule=RandomImages())
    folder = tmp_path / "run" / "version_0" / "figures"
    names = ["encoder_interpolation.png", "interpolation.png", "nearest_neighbours.png"]
    assert sorted(path.name for path in folder.iterdir()) == names
    events = EventAccumulator(str(tmp_path / "run" / "version_0"), size_guidance={"images": 0})
    events.Reload()
    assert {f"figures/{name[:-4]}" for name in names} <= set(events.Tags()["images"])


def test_paper_figures_of_a_conditional_model_pair_test_images_of_one_class(tmp_path):
    generator = MLPGenerator(latent_dim=3, hidden_dims=(8,), image_shape=SHAPE, num_classes=10)
    encoder = MLPEncoder(image_shape=SHAPE, latent_dim=3, hidden_dims=(5,), num_classes=10)
    discriminator = MaxoutDiscriminator(image_shape=SHAPE, hidden_units=(6,), pieces=2)
    gan = GAN(generator, discriminator, encoder=encoder, encoder_mode="joint")
    callback = PaperFigures(num_samples=12, interpolation_rows=2, steps=3)
    tiny_trainer(tmp_path, callbacks=[callback], limit_test_batches=1).test(gan, datamodule=RandomImages())
    assert [path.name for path in callback.written] == [
        "nearest_neighbours.png",
        "interpolation.png",
        "encoder_interpolation.png",
    ]


def test_paper_figures_after_fit(tmp_path):
    trainer = tiny_trainer(tmp_path, max_steps=2, callbacks=[PaperFigures(num_samples=3, interpolation_rows=1)])
    trainer.fit(tiny_gan(), datamodule=RandomImages())
    assert (tmp_path / "figures" / "nearest_neighbours.png").is_file()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"num_samples": 0}, "num_samples must be an integer >= 1"),
        ({"steps": 1}, "steps must be an integer >= 2"),
        ({"reference_split": "training"}, "reference_split must be one of train, val, test"),
        ({"reference_limit": 0}, "reference_limit must be an integer >= 1"),
    ],
)
def test_paper_figures_refuse_bad_arguments(arguments, message):
    with pytest.raises(ConfigError, match=message):
        PaperFigures(**arguments)
