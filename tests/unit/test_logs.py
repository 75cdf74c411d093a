"""The services' logging: the driver's command lines, which carry whole documents, stay hidden."""

import subprocess
import sys


def test_the_services_never_show_pymongos_command_lines():
    shown = subprocess.run([sys.executable, "-c", ("import logging; from shared import logs; logs.configure('DEBUG'); "
                            "print(logging.getLogger('pymongo.command').getEffectiveLevel())")],
                           capture_output=True, text=True, check=True).stdout
    assert int(shown) >= 30  # WARNING: its DEBUG lines hold recipients and messages
