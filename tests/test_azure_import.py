from sparecast_assets.sources.azure_pdm import read_azure, to_contract
from tests.conftest import AZURE_PDM


def test_the_azure_files_become_contract_sources_with_every_row():
    sources = to_contract(read_azure(AZURE_PDM))

    assert {name: len(frame) for name, frame in sources.items()} == {
        "telemetry": 43200, "errors": 3919, "failures": 761, "part_usage": 3286,
        "machines": 100, "parts": 4}
    assert sorted(sources["parts"]["part_id"]) == ["comp1", "comp2", "comp3", "comp4"]
    assert list(sources["telemetry"].columns) == [
        "machine_id", "measured_at", "volt", "rotate", "pressure", "vibration"]


def test_a_replacement_at_the_time_of_a_failure_of_that_part_is_a_failure_replacement():
    usage = to_contract(read_azure(AZURE_PDM))["part_usage"]

    # 743 of the 761 failures have a maintenance row with the same time, machine and component.
    assert usage["reason"].value_counts().to_dict() == {"preventive": 2543, "failure": 743}
    assert set(usage["quantity"]) == {1}
