"""security.md LG6: tasks carry ids only. tests/conftest.py checks every task
sent in every test; this shows the check refuses personal data."""

from __future__ import annotations

import pytest

from members.tasks.notifications import notification_send_batch


@pytest.mark.parametrize(
    "args",
    [
        ([1, 2], "token 13812345678"),  # a mobile number
        ([1], "440305199003071236"),  # an ID number (valid check digit)
    ],
)
def test_a_task_sent_with_personal_data_is_refused(args):
    with pytest.raises(AssertionError, match="personal data in its arguments"):
        notification_send_batch.delay(*args)


@pytest.mark.django_db
def test_a_task_sent_with_ids_goes_through():
    result = notification_send_batch.delay([], "claim-token-1")

    assert result.successful()
