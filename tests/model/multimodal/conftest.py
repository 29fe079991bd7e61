import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    """The test models are tiny: one thread is faster, and avoids thread oversubscription on a loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
