# Envoy Diverter firmware. The version is shown in the boot line, diag.status() and MQTT.
VERSION = "1.1.0"
