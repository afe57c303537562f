# A stand-in for the ESP32's network module (Wi-Fi), for host tests of board_esp32.py.
STA_IF = 0
script = []  # statuses the interface goes through, one per status()/isconnected() poll


class WLAN:
    def __init__(self, interface):
        self.active_flag = False
        self.connected = False
        self.calls = []

    def active(self, on=None):
        if on is not None:
            self.active_flag = on
        return self.active_flag

    def isconnected(self):
        if script and script[0] == "up":
            self.connected = True
        return self.connected

    def connect(self, ssid, password):
        self.calls.append(("connect", ssid))

    def disconnect(self):
        self.calls.append(("disconnect",))

    def status(self):
        return script.pop(0) if script and script[0] != "up" else 1001
