"""The console's drills: the list of drills with what each asks of the trainee, starting one for a trainee, the
running drill's progress goal by goal, abandoning it, and the completion records (shown, exported as CSV, cleared
once exported)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mocks.blood_center.centre import CentreError
from mocks.blood_center.console_kit import SECURITY_HEADERS, Console, Form
from mocks.blood_center.drill_runs import STATUS_ZH
from mocks.transport.faults import Fault

RECORDS_SHOWN = 100
BEHAVIOUR_ZH = {"manual": "培训老师在控制台操作", "accept": "自动确认", "by_stock": "按库存自动确认、部分确认或拒绝",
                "reject": "自动拒绝", "never": "培训老师在控制台发血", "at_once": "确认后立即发血",
                "after_feedback": "医院查询反馈后发血", "approve": "自动同意"}


def routes(console: Console) -> list[Route]:
    training = console.mock.training

    async def drills(request: Request) -> Response:
        runs = training.runs
        running = runs.active()
        records = runs.records(RECORDS_SHOWN)
        return console.page(request, "drills.html", drills=list(training.drills.values()), records=records,
                            count=runs.count(), status_zh=STATUS_ZH,
                            last=None if running is not None or not records else records[0])

    async def drill(request: Request) -> Response:
        found = training.drills.get(request.path_params["drill"])
        if found is None:
            raise CentreError("1001", f"没有演练 {request.path_params['drill'][:40]}")
        behaviour = {"orders": BEHAVIOUR_ZH[found.centre.orders], "issue": BEHAVIOUR_ZH[found.centre.issue],
                     "returns": BEHAVIOUR_ZH.get(found.centre.returns, found.centre.returns)}
        if found.centre.returns == "reject":
            behaviour["returns"] = f"自动拒绝（{found.centre.return_reason}）"
        faults = console.fault_rows([Fault.from_dict(dict(f)) for f in found.faults])
        return console.page(request, "drill.html", d=found, behaviour=behaviour, faults=faults)

    async def start(request: Request, data: Form) -> Response:
        progress = training.runs.start(data.get("drill", ""), data.get("trainee", ""))
        return console.back("/console/drills", f"演练「{progress.record['title']}」已开始，学员 {progress.record['trainee']}")

    async def abandon(request: Request, data: Form) -> Response:
        progress = training.runs.abandon()
        return console.back("/console/drills", f"演练「{progress.record['title']}」已结束（放弃），完成 {progress.done}/{progress.total}")

    async def export(request: Request) -> Response:
        headers = {**SECURITY_HEADERS, "Content-Disposition": 'attachment; filename="drill-records.csv"'}
        return Response(training.runs.csv(), media_type="text/csv; charset=utf-8", headers=headers)

    async def clear(request: Request, data: Form) -> Response:
        if data.get("confirm") != "yes":
            raise CentreError("1001", "请先导出记录，并勾选“已导出，确认清除”")
        gone = training.runs.clear_records()
        return console.back("/console/drills", f"已清除 {gone} 条已结束的演练记录")

    page, action = console.guarded, console.action
    return [
        Route("/console/drills", page(drills)),
        Route("/console/drills/start", action(start), methods=["POST"]),
        Route("/console/drills/abandon", action(abandon), methods=["POST"]),
        Route("/console/drills/records.csv", page(export)),
        Route("/console/drills/records/clear", action(clear), methods=["POST"]),
        Route("/console/drills/{drill}", page(drill)),
    ]
