import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny models: one thread avoids OpenMP spin-waits on the shared 2-core machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    from tests.hardening.fuzz import CASES, OUTPUTS

    if CASES:
        terminalreporter.write_line(
            f"hardening fuzz: {sum(CASES.values())} cases ({sum(OUTPUTS.values())} with an output, the rest a clear "
            f"ValueError/TypeError) over {len(CASES)} entry points: "
            + ", ".join(f"{k}={OUTPUTS[k]}/{v}" for k, v in sorted(CASES.items()))
        )
