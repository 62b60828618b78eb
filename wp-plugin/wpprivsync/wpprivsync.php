<?php
/**
 * Plugin Name:       wpprivsync
 * Description:       Makes the privacy policy true in WordPress, WooCommerce and ActiveCampaign: records privacy events for the wpprivsync daemon and runs WordPress's privacy tools on its behalf.
 * Version:           0.1.0
 * Requires at least: 6.1
 * Tested up to:      7.1
 * Requires PHP:      8.0
 * WC requires at least: 7.8
 * WC tested up to:   9.9
 * Author:            wpprivsync
 * License:           GPL-2.0-or-later
 * Text Domain:       wpprivsync
 * Domain Path:       /languages
 * Update URI:        false
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

define( 'WPPRIVSYNC_VERSION', '0.1.0' );
define( 'WPPRIVSYNC_FILE', __FILE__ );
define( 'WPPRIVSYNC_DIR', __DIR__ );

require_once __DIR__ . '/includes/class-wpprivsync-plugin.php';
require_once __DIR__ . '/includes/class-wpprivsync-installer.php';
require_once __DIR__ . '/includes/class-wpprivsync-outbox.php';
require_once __DIR__ . '/includes/class-wpprivsync-hooks.php';
require_once __DIR__ . '/includes/class-wpprivsync-consent.php';
require_once __DIR__ . '/includes/class-wpprivsync-retention.php';
require_once __DIR__ . '/includes/class-wpprivsync-privacy.php';
require_once __DIR__ . '/includes/class-wpprivsync-comment-exporter.php';
require_once __DIR__ . '/includes/class-wpprivsync-thrive.php';
require_once __DIR__ . '/includes/class-wpprivsync-core-erasure.php';
require_once __DIR__ . '/includes/class-wpprivsync-orders.php';
require_once __DIR__ . '/includes/class-wpprivsync-webhook.php';
require_once __DIR__ . '/includes/class-wpprivsync-exports.php';
require_once __DIR__ . '/includes/class-wpprivsync-core-exporter.php';
require_once __DIR__ . '/includes/class-wpprivsync-residue-scan.php';
require_once __DIR__ . '/includes/class-wpprivsync-woocommerce-customers.php';
require_once __DIR__ . '/includes/class-wpprivsync-rest.php';
require_once __DIR__ . '/includes/class-wpprivsync-requests-mirror.php';
require_once __DIR__ . '/includes/class-wpprivsync-admin-caps.php';
require_once __DIR__ . '/includes/class-wpprivsync-policy-text.php';
require_once __DIR__ . '/includes/class-wpprivsync-admin-tabs.php';
require_once __DIR__ . '/includes/class-wpprivsync-admin-person.php';
require_once __DIR__ . '/includes/class-wpprivsync-admin-person-view.php';
require_once __DIR__ . '/includes/class-wpprivsync-charts.php';
require_once __DIR__ . '/includes/class-wpprivsync-admin-dashboard.php';
require_once __DIR__ . '/includes/class-wpprivsync-admin-schedule.php';
require_once __DIR__ . '/includes/class-wpprivsync-admin.php';

register_activation_hook( __FILE__, array( 'Wpprivsync_Installer', 'activate' ) );

Wpprivsync_Plugin::boot();
