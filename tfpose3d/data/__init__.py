"""Data: motion capture import, rendering, TFRecords, tf.data pipelines, Human3.6M."""
