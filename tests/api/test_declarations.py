"""A command answers what it declares: the declared response is what listApis describes."""

from __future__ import annotations

from typing import Any, get_type_hints

import pytest
from starlette.applications import Starlette

from altostratus.api.declarations import ANYONE, SUCCESS, Command, CommandSet
from altostratus.api.params import Params
from altostratus.api.registry import build_registry
from altostratus.api.results import (
    ListResult,
    ResponseObject,
    Single,
    Submitted,
    Success,
    SuccessResponse,
)
from altostratus.core.context import ServiceContext
from tests.support.client import ApiClient


class Thing(ResponseObject):
    id: str


class Other(ResponseObject):
    id: str


def _declared(
    response: tuple[str, type[ResponseObject]], answer: Any, name: str = "answerThing"
) -> CommandSet:
    commands = CommandSet()

    @commands.command(name, Params, description="Answers", allowed=ANYONE, response=response)
    async def handler(_ctx: ServiceContext, _p: Params) -> Single | ListResult | Success:
        result: Single | ListResult | Success = answer
        return result

    return commands


def _command(response: tuple[str, type[ResponseObject]]) -> Command[Any]:
    (command,) = _declared(response, None)
    return command


def test_an_answer_unlike_the_declaration_is_refused() -> None:
    thing = _command(("thing", Thing))
    for good in (Single("thing", Thing(id="1")), ListResult("thing", [Thing(id="1")], 1)):
        assert thing.checked(good) is good
    for wrong in (
        Single("thing", Other(id="1")),
        Single("other", Thing(id="1")),
        ListResult("thing", [Thing(id="1"), Other(id="2")], 2),
        Success(),
    ):
        with pytest.raises(TypeError, match="answerThing"):
            thing.checked(wrong)
    success = _command(SUCCESS)
    done = Success(display_text="done")
    assert success.checked(done) is done
    with pytest.raises(TypeError, match="description"):
        success.checked(Success(extra={"description": "success"}))
    with pytest.raises(TypeError, match="Thing"):
        success.checked(Single("success", Thing(id="1")))


async def test_the_dispatcher_refuses_an_undeclared_answer(app: Starlette, api: ApiClient) -> None:
    app.state.registry.add(_declared(("thing", Thing), Single("thing", Other(id="1"))))
    answer = await api.call("answerThing")
    assert (answer.status, answer.body["errorcode"]) == (530, 530)
    right = Single("thing", Thing(id="1"))
    app.state.registry.add(_declared(("thing", Thing), right, "answerRightThing"))
    assert await api.ok("answerRightThing") == {"thing": {"id": "1"}}


def _answers(command: Command[Any]) -> Any:
    """What the handler's return annotation says it answers."""
    return get_type_hints(command.handler)["return"]


def test_declarations_agree_with_the_handlers_and_jobs() -> None:
    """A handler annotated ``-> Success`` declares SUCCESS, one answering an object does not;
    so does a command whose job's presenter answers ``Success`` (``answer_success``)."""
    for command in build_registry():
        assert issubclass(command.response_model, ResponseObject), command.name
        answers = _answers(command)
        says_success = issubclass(command.response_model, SuccessResponse)
        if answers is Submitted:
            assert command.job is not None, command.name
            answers = get_type_hints(command.job.present)["return"]
        if answers is Success:
            assert says_success, command.name
        else:
            assert answers in (Single, ListResult), command.name
            assert not says_success, command.name
