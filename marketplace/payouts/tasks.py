from celery import shared_task

from marketplace.payouts.models import PayoutRun, RunStatus
from marketplace.payouts.services import payout_run_execute, payout_run_propose


@shared_task(name="payouts.propose_runs", acks_late=True, max_retries=3, default_retry_delay=600)
def propose_runs() -> list[str]:
    """Daily: propose a run per currency that has royalties due (finance then reviews and approves it)."""
    from ledger import services as ledger

    currencies = sorted({a.currency for a in ledger.accounts_list(code_prefix="royalty_payable:")})
    runs = [payout_run_propose(currency=c) for c in currencies]
    return [run.public_id for run in runs if run is not None]


@shared_task(name="payouts.execute_run", acks_late=True, max_retries=5, default_retry_delay=60)
def execute_run(run_id: int) -> str:
    return payout_run_execute(run_id).status


@shared_task(name="payouts.sweep_executing", acks_late=True, max_retries=0)
def sweep_executing() -> int:
    """Finish runs left executing by a lost task or a dead worker (each payout is keyed: nobody is paid twice)."""
    ids = list(PayoutRun.objects.filter(status=RunStatus.EXECUTING).values_list("pk", flat=True))
    for pk in ids:
        execute_run.delay(pk)
    return len(ids)
