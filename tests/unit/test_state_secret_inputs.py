"""deployment.json never holds a secret input; the deployment's 0600 secret_inputs.json does, for re-deploys."""

import json
import stat

from tosca2ansible.runtime.state import DeploymentState


def test_secret_inputs_live_in_a_private_file_and_read_back(tmp_path):
    state = DeploymentState("demo", home=tmp_path)
    state.write_record(site="local", inputs={"db_password": "Sekrit-marker", "api_token": "tok-marker", "wn_num": "2"})
    assert "marker" not in state.record_file.read_text()
    assert json.loads(state.record_file.read_text())["inputs"] == {"wn_num": "2"}
    assert stat.S_IMODE(state.secret_inputs_file.stat().st_mode) == 0o600
    assert json.loads(state.secret_inputs_file.read_text()) == {"api_token": "tok-marker", "db_password": "Sekrit-marker"}
    state.write_record(status="deployed")  # an update without inputs keeps them
    assert state.read_record()["inputs"] == {"db_password": "Sekrit-marker", "api_token": "tok-marker", "wn_num": "2"}
    state.write_record(inputs={"wn_num": "3"})  # inputs replaced: the secret ones go too
    assert state.read_record()["inputs"] == {"wn_num": "3"} and json.loads(state.secret_inputs_file.read_text()) == {}
