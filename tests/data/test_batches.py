"""Training batches held on the device: the same batches as the DataLoader path, resumable, and the default."""

import pytest
import torch
from torchdata.stateful_dataloader import StatefulDataLoader

from ganbench.data.base import EpochShuffleSampler, TensorImageDataset, keep_batch
from ganbench.data.batches import DeviceBatches
from ganbench.errors import ConfigError
from tests.conftest import RandomImages


def dataset(count: int = 23) -> TensorImageDataset:
    images = torch.arange(count * 4, dtype=torch.uint8).reshape(count, 1, 2, 2)
    return TensorImageDataset(images, torch.arange(count) % 10, scale=1 / 255.0)


def loader_batches(count: int, batch_size: int, epochs: int, **order) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """What the resumable DataLoader (the ``num_workers > 0`` path) hands out over ``epochs`` epochs."""
    data = dataset(count)
    sampler = EpochShuffleSampler(data, **order)
    loader = StatefulDataLoader(data, sampler=sampler, batch_size=batch_size, drop_last=True, collate_fn=keep_batch)
    batches = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)  # what Lightning does at each epoch start
        batches.extend(loader)
    return batches


@pytest.mark.parametrize("num_replicas, rank", [(1, 0), (2, 0), (2, 1), (3, 2)])
def test_device_batches_are_the_dataloader_batches(num_replicas, rank):
    order = dict(num_replicas=num_replicas, rank=rank, seed=7)
    expected = loader_batches(23, 3, epochs=3, **order)
    batches = DeviceBatches(dataset(23), 3, **order)
    got = [batch for _ in range(3) for batch in batches]
    assert len(got) == len(expected) == 3 * len(batches)
    for (images, labels), (want_images, want_labels) in zip(got, expected):
        assert torch.equal(images, want_images) and torch.equal(labels, want_labels)
    assert got[0][0].dtype == torch.float32 and got[0][0].max() <= 1.0


def test_epochs_differ_and_each_is_a_permutation():
    batches = DeviceBatches(dataset(20), 4, seed=0)
    epochs = [torch.cat([labels for _, labels in batches]) for _ in range(2)]
    assert not torch.equal(epochs[0], epochs[1])
    for labels in epochs:
        assert sorted(labels.tolist()) == sorted((torch.arange(20) % 10).tolist())


def test_a_restored_position_hands_out_the_rest_of_that_epoch():
    straight = DeviceBatches(dataset(), 4, seed=3)
    all_batches = [labels for _ in range(2) for _, labels in straight]  # epochs 0 and 1: 5 batches each
    interrupted = DeviceBatches(dataset(), 4, seed=3)
    list(interrupted)  # epoch 0
    second_epoch = iter(interrupted)
    next(second_epoch), next(second_epoch)  # 2 batches into epoch 1, as at a mid-epoch checkpoint
    state = interrupted.state_dict()
    assert state == {"epoch": 1, "batches_done": 2}
    resumed = DeviceBatches(dataset(), 4, seed=3)
    resumed.load_state_dict(state)
    rest = [labels for _, labels in resumed]
    assert len(rest) == 3
    for labels, expected in zip(rest, all_batches[7:]):
        assert torch.equal(labels, expected)
    assert resumed.state_dict() == {"epoch": 1, "batches_done": 5}
    next_epoch = [labels for _, labels in resumed]  # the epoch after the restored one starts afresh
    assert resumed.epoch == 2 and len(next_epoch) == 5


def test_stored_images_are_left_alone():
    data = TensorImageDataset(torch.ones(6, 1, 2, 2), scale=2.0, shift=1.0)
    images = DeviceBatches(data, 2).images
    assert torch.equal(images, torch.full((6, 1, 2, 2), 3.0))
    assert torch.equal(data.images, torch.ones(6, 1, 2, 2))


def test_a_batch_larger_than_the_training_set_is_one_line():
    with pytest.raises(ConfigError, match="batch_size 30 is larger than the 23 training images"):
        DeviceBatches(dataset(23), 30)


def test_the_default_training_loader_holds_the_data_and_workers_get_a_dataloader():
    assert isinstance(RandomImages(count=16, batch_size=4).train_dataloader(), DeviceBatches)
    assert isinstance(RandomImages(count=16, batch_size=4, num_workers=1).train_dataloader(), StatefulDataLoader)


def test_a_dataloader_position_is_refused_with_what_to_do():
    data = dataset(23)
    loader = StatefulDataLoader(data, sampler=EpochShuffleSampler(data), batch_size=3, collate_fn=keep_batch)
    with pytest.raises(ConfigError, match="saved by a DataLoader.*--data.init_args.num_workers=1"):
        DeviceBatches(data, 3).load_state_dict(loader.state_dict())


def test_images_stored_transposed_are_batched_too():
    """TFD's images come out of its .mat file transposed (not contiguous): batches are still the right images."""
    images = torch.arange(6 * 4, dtype=torch.uint8).reshape(6, 1, 2, 2).transpose(2, 3)
    data = TensorImageDataset(images, scale=1.0)
    batches = DeviceBatches(data, 3, seed=0)
    for batch, _ in batches:
        for image in batch:
            assert any(torch.equal(image, candidate.float()) for candidate in images)
