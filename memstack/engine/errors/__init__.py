"""Domain errors of the engine, in one place: facts in fields, no front end's wording.

The engine raises these; each front end words them for its reader: the CLI boundary
(:mod:`memstack.cli.errors` and its wording modules) adds the command that fixes it, the start-up
call and the pytest plugin their own. Untranslated, an engine error still reads as a plain
statement of what is wrong (it is a :class:`memstack.core.errors.MemstackError`).

One module per job, named like the engine's sub-packages (tree, records, run, generate, adopt,
review); this package re-exports them all, so callers import ``from memstack.engine.errors``.
A new error goes into its job's module, with its name added below and to ``__all__``.
May import: the standard library and memstack.core.errors / memstack.core.redaction, nothing
else at run time (the CLI imports these modules to word an error: no SQLAlchemy, no Alembic);
the engine's types they mention only under ``TYPE_CHECKING``.
"""

from __future__ import annotations

from memstack.engine.errors.adopt import (
    AlreadyManaged,
    NoMatchingState,
    NothingToAdopt,
    TakeoverError,
    UnrecordedSchema,
)
from memstack.engine.errors.base import EngineError
from memstack.engine.errors.generate import (
    NewRevisionCycle,
    NothingToMerge,
    NotNullWithoutDefault,
    RenameCandidate,
    ScratchError,
    ScratchNotUsable,
    ScratchUnavailable,
    UncreatedReference,
    UndecidedRenames,
    UnknownRename,
)
from memstack.engine.errors.records import (
    AheadAndBehind,
    ChecksumDrift,
    ComponentStillConfigured,
    FailureMark,
    InvalidTagName,
    NothingRecorded,
    NotUpToDate,
    RemovedComponent,
    SchemaUnsupported,
    TagExists,
    TagRevisionsMissing,
    UnknownRows,
    UnknownTag,
)
from memstack.engine.errors.review import (
    GraphvizFailed,
    GraphvizMissing,
    SquawkFailed,
    SquawkMissing,
    TemplatesMissing,
)
from memstack.engine.errors.run import (
    BlockersRefused,
    LockLost,
    LockTimeout,
    LockWaitGaveUp,
    MigrationFailed,
    NonAtomicInPlan,
    NonAtomicUndeclared,
    NotOneRevision,
    PlanChangedWhileAsked,
    RehearsalFailed,
    RenderFailure,
    RevisionNotRenderable,
    TagTakesNoTarget,
)
from memstack.engine.errors.tree import (
    AmbiguousTarget,
    ForeignBranchLabel,
    GraphError,
    InvalidGraph,
    InvalidSyntax,
    IrreversibleInPlan,
    MissingRevisionId,
    MultipleHeads,
    NonLiteralField,
    NoRevisions,
    RevisionCycle,
    RevisionFileError,
    RevisionIdTooLong,
    TargetNeedsComponent,
    UnknownTarget,
    UnreadableMigrations,
)

__all__ = [
    "AheadAndBehind",
    "AlreadyManaged",
    "AmbiguousTarget",
    "BlockersRefused",
    "ChecksumDrift",
    "ComponentStillConfigured",
    "EngineError",
    "FailureMark",
    "ForeignBranchLabel",
    "GraphError",
    "GraphvizFailed",
    "GraphvizMissing",
    "InvalidGraph",
    "InvalidSyntax",
    "InvalidTagName",
    "IrreversibleInPlan",
    "LockLost",
    "LockTimeout",
    "LockWaitGaveUp",
    "MigrationFailed",
    "MissingRevisionId",
    "MultipleHeads",
    "NewRevisionCycle",
    "NoMatchingState",
    "NoRevisions",
    "NonAtomicInPlan",
    "NonAtomicUndeclared",
    "NonLiteralField",
    "NotNullWithoutDefault",
    "NotOneRevision",
    "NotUpToDate",
    "NothingRecorded",
    "NothingToAdopt",
    "NothingToMerge",
    "PlanChangedWhileAsked",
    "RehearsalFailed",
    "RemovedComponent",
    "RenameCandidate",
    "RenderFailure",
    "RevisionCycle",
    "RevisionFileError",
    "RevisionIdTooLong",
    "RevisionNotRenderable",
    "SchemaUnsupported",
    "ScratchError",
    "ScratchNotUsable",
    "ScratchUnavailable",
    "SquawkFailed",
    "SquawkMissing",
    "TagExists",
    "TagRevisionsMissing",
    "TagTakesNoTarget",
    "TakeoverError",
    "TargetNeedsComponent",
    "TemplatesMissing",
    "UncreatedReference",
    "UndecidedRenames",
    "UnknownRename",
    "UnknownRows",
    "UnknownTag",
    "UnknownTarget",
    "UnreadableMigrations",
    "UnrecordedSchema",
]
