"""`time_series`: a CSV of observations over time, cut into sliding windows.

Each example is `window` consecutive rows of the feature columns; its target is the target
column `horizon` steps after the window's last row. Splits are chronological: the last
`test_split` of the windows (by target time) are the test set, the `validation_split` before
them validation, the rest training; no window's target is shuffled across a boundary. Values
stay in original units: the model normalises its inputs and rescales its output with
statistics of the training part only, so predictions and metrics are in original units.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, PositiveInt, model_validator

from dlrun.core.errors import DataError
from dlrun.core.params import ConfigPath
from dlrun.data.base import DataParams, DataSpec, Split, Splits
from dlrun.data.checks import require_columns, require_complete, require_finite
from dlrun.data.registry import sources
from dlrun.data.tabular import read_table

if TYPE_CHECKING:  # numpy and pandas are imported where used: `dlrun validate` must stay fast
    import numpy as np
    import pandas as pd


class TimeSeriesParams(DataParams):
    source: Literal["time_series"] = "time_series"
    path: ConfigPath = Field(
        description="The CSV file, or a glob of shards with the same header "
        "(`data/part-*.csv`), read in sorted order, end to end."
    )
    target: str = Field(description="The column to forecast.")
    time: str | None = Field(None, description="The time column; rows are sorted by it.")
    time_format: str | None = Field(
        None, description="The `strftime` format of `time`, e.g. `%Y-%m` or `%d-%b-%Y`."
    )
    features: list[str] | None = Field(
        None, description="Input columns (default: the target only)."
    )
    window: PositiveInt = Field(12, description="Consecutive rows each example sees.")
    horizon: PositiveInt = Field(
        1, description="Steps ahead of the window's last step to forecast."
    )
    stride: PositiveInt = Field(1, description="Steps between the starts of two windows.")
    season: PositiveInt | None = Field(
        None, description="Season length; the naive forecast is then the value one season back."
    )
    forecast: Literal["residual", "direct"] = Field(
        "residual",
        description="`residual`: the model predicts the change from the naive forecast, so it can "
        "follow a trend past the training range; `direct`: the value itself.",
    )
    test_split: float = Field(
        0.2,
        gt=0.0,
        lt=1.0,
        description="Fraction of windows held out for the test: the last ones by target time "
        "(validation takes the ones just before them).",
    )
    delimiter: str = Field(",", description="Field separator.")

    @model_validator(mode="after")
    def _season_inside_the_window(self) -> TimeSeriesParams:
        if self.season is not None and not self.horizon <= self.season < self.window + self.horizon:
            raise ValueError(
                f"season {self.season} must be at least horizon ({self.horizon}) and less than "
                f"window + horizon ({self.window + self.horizon}), so its value is in the window"
            )
        return self


def numeric_columns(
    table: pd.DataFrame, columns: list[str], params: TimeSeriesParams
) -> np.ndarray:
    """Numbers, also from quoted, padded or comma-grouped text ("  1,734.00")."""
    import numpy as np
    import pandas as pd

    values = table[columns].apply(
        lambda column: pd.to_numeric(
            column.astype(str).str.strip().str.replace(",", ""), errors="coerce"
        )
    )
    require_complete(values, params.path, "or non-numeric values in " + ", ".join(columns))
    require_finite(values, params.path, "values in " + ", ".join(columns))
    return values.to_numpy(dtype=np.float32)


def ordered_times(table: pd.DataFrame, params: TimeSeriesParams) -> np.ndarray:
    import numpy as np
    import pandas as pd

    if params.time is None:
        return np.arange(len(table))
    try:
        times = pd.to_datetime(
            table[params.time].astype(str).str.strip(), format=params.time_format
        )
    except (ValueError, TypeError) as error:
        raise DataError(
            f"data.time: cannot read column '{params.time}' as times: {error}",
            fix="set data.time_format (e.g. '%Y-%m' or '%d-%b-%Y')",
        ) from None
    return times.to_numpy()


def windows(
    values: np.ndarray, target: np.ndarray, times: np.ndarray, params: TimeSeriesParams
) -> Split:
    import numpy as np

    span = params.window + params.horizon - 1
    starts = np.arange(0, len(values) - span, params.stride)
    if len(starts) == 0:
        raise DataError(
            f"data.window: a window of {params.window} steps plus a horizon of {params.horizon} "
            f"needs more than {span} rows, but {params.path.name} has {len(values)}",
            fix="use a shorter window or horizon",
        )
    x = np.stack([values[s : s + params.window] for s in starts])
    ends = starts + span
    return Split(x, target[ends], times=times[ends])


def chronological(split: Split, params: TimeSeriesParams) -> tuple[Split, Split | None, Split]:
    n = len(split)
    n_test = max(1, round(n * params.test_split))
    n_validation = round((n - n_test) * params.validation_split)
    n_train = n - n_test - n_validation
    if n_train < 1:
        raise DataError(
            f"{params.path.name}: too few windows ({n}) to split", fix="shorten the window"
        )

    def part(start: int, stop: int) -> Split:
        times = split.times[start:stop] if split.times is not None else None
        return Split(split.x[start:stop], split.y[start:stop], times=times)

    validation = part(n_train, n_train + n_validation) if n_validation else None
    return part(0, n_train), validation, part(n - n_test, n)


@sources.register("time_series", TimeSeriesParams)
def load_time_series(params: TimeSeriesParams, seed: int) -> Splits:
    """Sliding windows over a CSV series, split chronologically; values in original units."""
    import numpy as np

    table = read_table(params.path, params.delimiter)
    features = params.features or [params.target]
    wanted = {"data.target": [params.target], "data.features": features}
    if params.time is not None:
        wanted["data.time"] = [params.time]
    require_columns(table, params.path, wanted)
    times = ordered_times(table, params)
    order = np.argsort(times, kind="stable")
    table, times = table.iloc[order].reset_index(drop=True), times[order]
    values = numeric_columns(table, features, params)
    target = numeric_columns(table, [params.target], params)[:, 0]

    train, validation, test = chronological(windows(values, target, times, params), params)
    if params.limit is not None:
        train = Split(
            train.x[-params.limit :], train.y[-params.limit :], train.times[-params.limit :]
        )
    # Statistics from the rows the training windows cover: nothing after the training part.
    seen = values[: int(np.searchsorted(times, train.times[-1], side="right"))]
    std = seen.std(axis=0)
    naive = None
    if params.target in features:
        back = params.season or params.horizon
        naive = (params.window - 1 + params.horizon - back, features.index(params.target))
    residual = params.forecast == "residual" and naive is not None
    change = train.y - train.x[:, naive[0], naive[1]] if residual else train.y
    spec = DataSpec(
        input_shape=(params.window, len(features)),
        task="regression",
        input_kind="series",
        feature_names=features,
        target_mean=float(change.mean()),
        target_std=float(change.std()) or 1.0,
        residual_forecast=residual,
        input_mean=seen.mean(axis=0).tolist(),
        input_std=np.where(std > 0, std, 1.0).tolist(),
        naive_forecast_at=naive,
        preprocessing={
            "window": params.window,
            "horizon": params.horizon,
            "test_times": [str(t) for t in (test.times[0], test.times[-1])],
        },
    )
    return Splits(train=train, validation=validation, test=test, spec=spec)
