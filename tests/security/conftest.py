import pytest

from tests.security import matrix
from tests.security.world import build_world


@pytest.fixture
def world(db, settings, tmp_path, deliver_outbox):
    settings.MEDIA_ROOT = tmp_path / "media"  # uploaded files stay out of the real var/ directory
    return build_world(deliver_outbox=deliver_outbox)


def pytest_terminal_summary(terminalreporter):
    """The matrix's one-line verdict, in every run's output (not only with -s)."""
    if matrix.REPORT:
        terminalreporter.section("authorization matrix")
        for line in matrix.REPORT:
            terminalreporter.write_line(line)
